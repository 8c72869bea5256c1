import { parseArgs } from 'node:util';
import { LightsoutError, type Role, isSlug } from '@lightsout/shared';
import { createJoinToken } from './agents/join-tokens.js';
import { loadConfig } from './config/load.js';
import { createUser, ensureTenant } from './identity/accounts.js';
import { randomPassword } from './identity/passwords.js';
import { type Store, openStore } from './store/open.js';

const USAGE = `usage: lightsout-relay join-token create --region R --datacenter D --tenant T [--tenant T2 …] [--ttl SECONDS] [--config relay.yaml] [--json]
       lightsout-relay tenant create --id ID --name NAME [--require-mfa] [--config relay.yaml]
       lightsout-relay user create --tenant ID --username NAME --role ROLE [--config relay.yaml]   (embedded identity only)

Host-local administration: opens the relay's store directly, so whoever runs
it needs the relay host's config and data directory (the same trust as the
relay process itself). Use it to bootstrap a fresh install (the first tenant,
the first administrator, the first agent) or from provisioning scripts;
everyone else uses the API.`;

const ROLES: readonly Role[] = ['viewer', 'operator', 'tenant-admin', 'provider-admin'];

function usage(message: string): LightsoutError {
  return new LightsoutError('VALIDATION_FAILED', message, { hint: USAGE.split('\n')[0] });
}

async function withStore<T>(configFile: string | undefined, work: (store: Store, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  const config = loadConfig(configFile === undefined ? {} : { file: configFile });
  const store = await openStore(config);
  try {
    return await work(store, config);
  } finally {
    await store.destroy();
  }
}

async function joinToken(rest: string[]): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: {
      region: { type: 'string' },
      datacenter: { type: 'string' },
      tenant: { type: 'string', multiple: true },
      ttl: { type: 'string', default: '600' },
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
    },
  });
  const ttlSeconds = Number(values.ttl);
  if (!isSlug(values.region) || !isSlug(values.datacenter) || !Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > 86_400) {
    throw usage('--region and --datacenter must be slugs and --ttl 60..86400 seconds');
  }
  const tenants = values.tenant ?? [];
  if (tenants.length === 0 || !tenants.every((tenant) => isSlug(tenant))) throw usage('name each tenant the agent may register servers into with --tenant (at least one)');
  await withStore(values.config, async (store) => {
    const { token, expiresAt } = await createJoinToken(store, { region: values.region!, datacenter: values.datacenter!, tenants: [...new Set(tenants)], ttlSeconds, createdBy: 'local-admin' });
    if (values.json) console.log(JSON.stringify({ token, region: values.region, datacenter: values.datacenter, tenants: [...new Set(tenants)], expiresAt: expiresAt.toISOString() }));
    else console.log(token);
  });
}

/** A tenant, before any administrator exists who could create it through the API (external issuers' first tenants). */
async function tenant(rest: string[]): Promise<void> {
  const { values } = parseArgs({ args: rest, options: { id: { type: 'string' }, name: { type: 'string' }, 'require-mfa': { type: 'boolean', default: false }, config: { type: 'string', short: 'c' } } });
  if (!isSlug(values.id) || values.name === undefined || values.name.length === 0 || values.name.length > 200) throw usage('--id must be a slug and --name 1..200 characters');
  await withStore(values.config, async (store) => {
    if ((await store.selectFrom('tenants').select('id').where('id', '=', values.id!).executeTakeFirst()) !== undefined) throw new LightsoutError('CONFLICT', `tenant ${values.id} exists`);
    await ensureTenant(store, values.id!, values.name!);
    if (values['require-mfa']) await store.updateTable('tenants').set({ require_mfa: 1 }).where('id', '=', values.id!).execute();
    console.log(values.id);
  });
}

/**
 * The first administrator of an embedded-identity install started without the
 * demo seed. The password is printed once, to the terminal only.
 */
async function user(rest: string[]): Promise<void> {
  const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' }, username: { type: 'string' }, role: { type: 'string' }, config: { type: 'string', short: 'c' } } });
  const role = ROLES.find((known) => known === values.role);
  if (!isSlug(values.tenant) || values.username === undefined || !/^[A-Za-z0-9._@-]{1,64}$/.test(values.username) || role === undefined) {
    throw usage(`--tenant must be a slug, --username 1..64 of [A-Za-z0-9._@-], --role one of ${ROLES.join(', ')}`);
  }
  await withStore(values.config, async (store, config) => {
    if (config.identity.mode !== 'embedded') {
      throw new LightsoutError('VALIDATION_FAILED', 'users live at the external issuer in external identity mode', { hint: 'give the person the tenant and role claims at the issuer; lightsout-relay tenant create makes the tenant' });
    }
    if ((await store.selectFrom('tenants').select('id').where('id', '=', values.tenant!).executeTakeFirst()) === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${values.tenant}`, { hint: 'lightsout-relay tenant create first' });
    if ((await store.selectFrom('users').select('id').where('tenant_id', '=', values.tenant!).where('username', '=', values.username!).executeTakeFirst()) !== undefined) throw new LightsoutError('CONFLICT', `user ${values.username} exists in tenant ${values.tenant}`);
    const password = randomPassword();
    await createUser(store, { tenant: values.tenant!, username: values.username!, password, role });
    process.stdout.write(`${values.username} ${password}   ${role}, tenant ${values.tenant} (shown once; sign in and change it)\n`);
  });
}

const COMMANDS: Record<string, { verb: string; run: (rest: string[]) => Promise<void> }> = {
  'join-token': { verb: 'create', run: joinToken },
  tenant: { verb: 'create', run: tenant },
  user: { verb: 'create', run: user },
};

/** Is `argv` (after the program name) an administration command rather than "run the relay"? */
export function isAdminCommand(argv: readonly string[]): boolean {
  return argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]);
}

/** `lightsout-relay join-token|tenant|user create …`. */
export async function runAdmin(argv: string[]): Promise<void> {
  const [noun, verb, ...rest] = argv;
  const command = noun === undefined ? undefined : COMMANDS[noun];
  if (command === undefined || verb !== command.verb) {
    console.error(USAGE);
    process.exit(2);
  }
  await command.run(rest);
}
