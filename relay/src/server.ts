import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LightsoutError } from '@lightsout/shared';
import { isAdminCommand, runAdmin } from './admin.js';
import { buildApp } from './app.js';
import { loadConfig } from './config/load.js';

/**
 * Generated passwords are shown on a terminal, once. When stdout is not a
 * terminal it is someone's log file (a supervisor, systemd, a container
 * runtime), so the passwords go to a 0600 file in the data dir instead and
 * stdout only says where.
 */
function showSeededCredentials(text: string, containsPasswords: boolean, dataDir: string): void {
  if (!containsPasswords || process.stdout.isTTY) {
    process.stdout.write(text);
    return;
  }
  const file = join(dataDir, 'initial-credentials.txt');
  writeFileSync(file, text, { mode: 0o600 });
  process.stdout.write(`Lightsout relay: first start, demo accounts created; their passwords are in ${file} (mode 0600): read it, then delete it.\n`);
}

/** How long a clean shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;

/** `lightsout-relay [--config relay.yaml]`: load config, build, listen, stop cleanly on signals. */
async function main(): Promise<void> {
  if (isAdminCommand(process.argv.slice(2))) return runAdmin(process.argv.slice(2));
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('usage: lightsout-relay [--config relay.yaml]\n       lightsout-relay join-token create --region R --datacenter D --tenant T [--ttl S]\n       lightsout-relay tenant create --id ID --name NAME [--require-mfa]\n       lightsout-relay user create --tenant ID --username NAME --role ROLE\nEnvironment: LIGHTSOUT_RELAY_CONFIG, LIGHTSOUT_RELAY__<SECTION>__<KEY> (see relay/README.md)');
    return;
  }
  const config = loadConfig(values.config === undefined ? {} : { file: values.config });
  const app = await buildApp({ config, printSeededCredentials: (text, containsPasswords) => showSeededCredentials(text, containsPasswords, config.dataDir) });
  const shutdown = (signal: string) => {
    app.log.info({ signal }, 'stopping');
    // A clean close waits for open connections and timers; one that never finishes must not leave an
    // orphaned relay holding its port (seen once under load, after the demo that started it was killed).
    setTimeout(() => {
      app.log.error({ signal, afterMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  await app.listen({ host: config.listen.host, port: config.listen.port, backlog: config.listen.backlog });
  app.log.info({ publicUrl: config.publicUrl, issuer: config.identity.issuer, node: process.version, nodeFlags: process.execArgv }, 'relay ready');
}

main().catch((error: unknown) => {
  if (error instanceof LightsoutError) {
    console.error(`lightsout-relay: ${error.code}: ${error.message}${error.hint === undefined ? '' : `\n  hint: ${error.hint}`}`);
  } else {
    console.error('lightsout-relay: failed to start:', error);
  }
  process.exit(1);
});
