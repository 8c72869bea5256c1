import { parseArgs } from 'node:util';
import { LightsoutError, isSlug } from '@lightsout/shared';
import { createJoinToken } from './agents/join-tokens.js';
import { loadConfig } from './config/load.js';
import { openStore } from './store/open.js';

const USAGE = `usage: lightsout-relay join-token create --region R --datacenter D [--ttl SECONDS] [--config relay.yaml] [--json]

Host-local administration: opens the relay's store directly, so whoever runs
it needs the relay host's config and data directory (the same trust as the
relay process itself). Use it to bootstrap the first agent or from
provisioning scripts; everyone else uses the API (lightsout agents token create).`;

/** `lightsout-relay join-token create …`: mint a single-use agent join token. */
export async function runAdmin(argv: string[]): Promise<void> {
  const [noun, verb, ...rest] = argv;
  if (noun !== 'join-token' || verb !== 'create') {
    console.error(USAGE);
    process.exit(2);
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      region: { type: 'string' },
      datacenter: { type: 'string' },
      ttl: { type: 'string', default: '600' },
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
    },
  });
  const ttlSeconds = Number(values.ttl);
  if (!isSlug(values.region) || !isSlug(values.datacenter) || !Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > 86_400) {
    throw new LightsoutError('VALIDATION_FAILED', '--region and --datacenter must be slugs and --ttl 60..86400 seconds', { hint: USAGE.split('\n')[0] });
  }
  const config = loadConfig(values.config === undefined ? {} : { file: values.config });
  const store = await openStore(config);
  try {
    const { token, expiresAt } = await createJoinToken(store, { region: values.region, datacenter: values.datacenter, ttlSeconds, createdBy: 'local-admin' });
    if (values.json) console.log(JSON.stringify({ token, region: values.region, datacenter: values.datacenter, expiresAt: expiresAt.toISOString() }));
    else console.log(token);
  } finally {
    await store.destroy();
  }
}
