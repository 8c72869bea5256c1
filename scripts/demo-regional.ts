/**
 * The regional demo (docs/deployment.md): a throwaway PostgreSQL, one
 * manager, three gateways (two in eu-central, one in us-east) and two agents,
 * each with a simulated BMC fleet, all on loopback. Prints the same URL and
 * demo credentials as the one-process demo (the manager's URL: it serves the
 * web console and the API), then runs until Ctrl-C and stops exactly what it
 * started. Every run starts fresh: the database is a new cluster each time.
 *
 *   scripts/demo.sh --topology regional [--count N] [--port P] [--data-dir DIR]
 * Ports: the manager on P (default 8080), the gateways on P+1 … P+3.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '@lightsout/lab';
import { demoBannerText } from './demo-banner.js';
import { demoOptions } from './demo-options.js';
import { type DemoChild, Supervisor, portIsFree } from './demo-supervisor.js';
import { SERVER_NODE_FLAGS, serverEnv } from './lib/server-node-flags.js';

const options = demoOptions(
  {
    topology: { type: 'string', default: 'regional' },
    count: { type: 'string', default: process.env['LIGHTSOUT_DEMO_COUNT'] ?? '3' },
    port: { type: 'string', default: process.env['LIGHTSOUT_DEMO_PORT'] ?? '8080' },
    host: { type: 'string', default: process.env['LIGHTSOUT_DEMO_HOST'] ?? '127.0.0.1' },
    'data-dir': { type: 'string', default: process.env['LIGHTSOUT_DEMO_DIR'] },
    /** Accepted for the one-process demo's sake: every regional run is fresh already. */
    fresh: { type: 'boolean', default: false },
    'exit-when-ready': { type: 'boolean', default: false },
  },
  'scripts/demo.sh --topology regional [--count N] [--port P] [--data-dir DIR]',
);

const supervisor = new Supervisor(options['data-dir'] ?? join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), '.data/demo-regional'));
const { repo, dataDir, logDir } = supervisor;
const basePort = Number(options.port);
const urlAt = (port: number) => `http://${options.host}:${port}`;
const managerUrl = urlAt(basePort);

interface Replica {
  name: string;
  role: 'manager' | 'gateway';
  region?: string;
  port: number;
}
const replicas: Replica[] = [
  { name: 'manager', role: 'manager', port: basePort },
  { name: 'gateway-eu-central-1', role: 'gateway', region: 'eu-central', port: basePort + 1 },
  { name: 'gateway-eu-central-2', role: 'gateway', region: 'eu-central', port: basePort + 2 },
  { name: 'gateway-us-east-1', role: 'gateway', region: 'us-east', port: basePort + 3 },
];
/** One agent per region, with its own simulated fleet; server ids are prefixed by datacenter so they differ. */
const sites = [
  { region: 'eu-central', datacenter: 'fra1', gateways: replicas.filter((replica) => replica.region === 'eu-central') },
  { region: 'us-east', datacenter: 'nyc1', gateways: replicas.filter((replica) => replica.region === 'us-east') },
];

async function main(): Promise<void> {
  if (options.topology !== 'regional') supervisor.fail(`unknown topology "${options.topology}" (known: regional; without --topology, the one-process demo)`, 2);
  for (const replica of replicas) {
    if (!(await portIsFree(options.host, replica.port))) supervisor.fail(`${options.host}:${replica.port} is already in use (another demo still running?); stop it or choose --port`, 2);
  }
  // The database is a new cluster each run: identities enrolled against the last one would not be known to it.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(9).toString('base64url');
  writeFileSync(join(dataDir, 'demo-password'), password, { mode: 0o600 });

  supervisor.say('starting PostgreSQL (a throwaway cluster on loopback)');
  const postgres = await startPostgres();
  try {
    await run(postgres.url, password);
  } finally {
    await postgres.stop();
  }
}

async function run(postgresUrl: string, password: string): Promise<void> {
  const configOf = (replica: Replica) => join(dataDir, `${replica.name}.json`);
  for (const replica of replicas) {
    writeFileSync(
      configOf(replica),
      JSON.stringify(
        {
          role: replica.role,
          ...(replica.region === undefined ? {} : { region: replica.region }),
          listen: { host: options.host, port: replica.port },
          publicUrl: urlAt(replica.port),
          deploymentUrl: managerUrl,
          dataDir: join(dataDir, replica.name),
          webRoot: join(repo, 'desktop/out/web'),
          store: { driver: 'postgres', postgresUrl },
          // Every replica reads the signing keys and TOTP secrets the store holds sealed with this one file.
          identity: { totpKeyFile: join(dataDir, 'at-rest.key') },
        },
        null,
        2,
      ),
    );
  }
  // The manager first: it creates the schema and the demo users; then the gateways.
  for (const replica of replicas) {
    supervisor.say(`starting the ${replica.role}${replica.region === undefined ? '' : ` of ${replica.region}`} on ${urlAt(replica.port)}`);
    const ready = async () => {
      await supervisor.waitFor(`${replica.name} to be ready`, async () => {
        const response = await fetch(`${urlAt(replica.port)}/readyz`).catch(() => undefined);
        return response?.ok ? true : undefined;
      });
    };
    supervisor.start({ name: replica.name, args: [...SERVER_NODE_FLAGS, join(repo, 'relay/bin/lightsout-relay.js'), '--config', configOf(replica)], env: { ...serverEnv(), LIGHTSOUT_DEMO_PASSWORD: password }, ready });
    await ready();
  }

  for (const site of sites) {
    const agentConfig = join(dataDir, `agent-${site.datacenter}.yaml`);
    const agentState = join(dataDir, `agent-${site.datacenter}-state`);
    const fleetFile = join(dataDir, `fleet-${site.datacenter}.yaml`);
    writeFileSync(fleetFile, `count: ${Number(options.count)}\nidPrefix: ${site.datacenter}\n`);
    let bmcEnvironment: Record<string, string> = {};
    const agentName = `agent-${site.datacenter}`;
    const bmcsimName = `bmcsim-${site.datacenter}`;
    const agent: DemoChild = {
      name: agentName,
      args: [...SERVER_NODE_FLAGS, join(repo, 'agent/bin/lightsout-agent.js'), '--config', agentConfig],
      env: {},
      prepare: () => {
        agent.env = { ...serverEnv(), ...bmcEnvironment };
        writeAgentConfig(agentConfig, agentState, site, configOf(replicas[0]!));
      },
      ready: async () => {
        await supervisor.waitFor(`${agentName} to connect`, () => (/control connection open/.test(supervisor.output(agentName)) ? true : undefined));
      },
    };
    const bmcsim: DemoChild = {
      name: bmcsimName,
      args: [join(repo, 'bmcsim/bin/bmcsim.js'), '--config', fleetFile, '--address', '127.0.0.1', '--agent-config', agentConfig],
      env: {},
      ready: async () => {
        const output = await supervisor.waitFor(`${bmcsimName} to start its BMCs`, () => {
          const text = supervisor.output(bmcsimName);
          return /bmcsim: \d+ BMCs up/.test(text) ? text : undefined;
        });
        bmcEnvironment = {};
        for (const match of output.matchAll(/\b(BMCSIM_[A-Z_]+)=(\S+)/g)) bmcEnvironment[match[1]!] = match[2]!;
      },
      dependents: [agentName],
    };
    supervisor.say(`starting ${options.count} simulated BMCs in ${site.datacenter} and their agent (outbound to ${site.gateways.map((gateway) => gateway.name).join(', ')})`);
    supervisor.start(bmcsim);
    await bmcsim.ready!();
    supervisor.start(agent);
    await agent.ready!();
  }

  process.stdout.write(
    demoBannerText({
      title: 'Lightsout demo is running (regional: one manager, three gateways, two agents)',
      url: managerUrl,
      password,
      logDir,
      sections: [[...replicas.slice(1).map((replica) => `${replica.name.padEnd(22)} ${urlAt(replica.port)}`), `agents: fra1 (eu-central, ${options.count} servers fra1-…), nyc1 (us-east, ${options.count} servers nyc1-…)`]],
    }),
  );
  if (process.env['DISPLAY'] && process.stdout.isTTY) supervisor.openBrowser(`${managerUrl}/`);
  if (!options['exit-when-ready']) {
    await supervisor.untilSignal();
    supervisor.say('stopping');
  }
  await supervisor.stopAll();
}

/**
 * The agent's configuration as bmcsim wrote it, pointed at its region's
 * gateways (in failover order) and its own state directory. A join token is
 * minted on the store through the manager's configuration.
 */
function writeAgentConfig(agentConfig: string, agentState: string, site: (typeof sites)[number], managerConfig: string): void {
  let config = readFileSync(agentConfig, 'utf8')
    .replace(/^relay:.*$/m, `relays:\n${site.gateways.map((gateway) => `  - ${urlAt(gateway.port)}`).join('\n')}`)
    .replace(/^stateDir:.*$/m, `stateDir: ${agentState}`)
    .replace(/^name:.*$/m, `name: ${site.datacenter}-agent`);
  // The demo's relay speaks plain http on --host; off loopback the agent refuses that unless told (agent/README.md).
  if (!/^(127\.|localhost$|\[?::1\]?$)/.test(options.host) && !/^allowInsecureRelay:/m.test(config)) config += '\nallowInsecureRelay: true\n';
  if (!existsSync(join(agentState, 'identity.json'))) {
    const minted = spawnSync(process.execPath, [join(repo, 'relay/bin/lightsout-relay.js'), 'join-token', 'create', '--region', site.region, '--datacenter', site.datacenter, '--tenant', 'demo', '--config', managerConfig], { cwd: repo, encoding: 'utf8' });
    if (minted.status !== 0) supervisor.fail(`could not create a join token: ${minted.stderr}`);
    const joinTokenFile = join(dataDir, `join-token-${site.datacenter}`);
    writeFileSync(joinTokenFile, minted.stdout.trim(), { mode: 0o600 });
    config += `\njoinTokenFile: ${joinTokenFile}\n`;
  }
  writeFileSync(agentConfig, config, { mode: 0o600 });
}

main().catch((error: unknown) => supervisor.report(error));
