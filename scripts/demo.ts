/**
 * The demo: a relay (embedded OP, SQLite), a simulated BMC fleet and one
 * agent enrolled with a join token, all on loopback. Prints the web console
 * URL and the demo credentials, then runs until Ctrl-C and stops exactly what
 * it started. State (relay store, agent key, password) persists in the data
 * directory, so a second run picks up the same identities.
 *
 * It supervises what it started: a child that dies is started again (bmcsim
 * together with the agent, whose configuration it writes); a child that keeps
 * dying stops the whole demo with the reason. Children are tied to this
 * process (PR_SET_PDEATHSIG), so even a killed demo leaves nothing behind.
 *
 *   scripts/demo.sh [--count N] [--port P] [--ssh-port P] [--data-dir DIR] [--fresh]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoBannerText } from './demo-banner.js';
import { demoOptions } from './demo-options.js';
import { type DemoChild, Supervisor, portIsFree } from './demo-supervisor.js';
import { SERVER_NODE_FLAGS, serverEnv } from './lib/server-node-flags.js';

const options = demoOptions(
  {
    count: { type: 'string', default: process.env['LIGHTSOUT_DEMO_COUNT'] ?? '6' },
    port: { type: 'string', default: process.env['LIGHTSOUT_DEMO_PORT'] ?? '8080' },
    /** The SSH front door (`ssh sim-01@host -p 2222`); 0 picks a free port. */
    'ssh-port': { type: 'string', default: process.env['LIGHTSOUT_DEMO_SSH_PORT'] ?? '2222' },
    host: { type: 'string', default: process.env['LIGHTSOUT_DEMO_HOST'] ?? '127.0.0.1' },
    'data-dir': { type: 'string', default: process.env['LIGHTSOUT_DEMO_DIR'] },
    fresh: { type: 'boolean', default: false },
    'exit-when-ready': { type: 'boolean', default: false },
  },
  'scripts/demo.sh [--count N] [--port P] [--ssh-port P] [--data-dir DIR] [--fresh]  |  scripts/demo.sh --topology regional [--count N] [--port P] [--data-dir DIR]',
);

const supervisor = new Supervisor(options['data-dir']);
const { repo, dataDir, logDir } = supervisor;
const relayUrl = `http://${options.host}:${options.port}`;
const REGION = 'eu-central';
const DATACENTER = 'fra1';

async function main(): Promise<void> {
  // A relay already on the port (a previous demo, anything else) would answer our
  // readiness probes and the banner would point at it: refuse instead.
  if (!(await portIsFree(options.host, Number(options.port)))) {
    supervisor.fail(`${options.host}:${options.port} is already in use (another demo still running?); stop it or choose --port`, 2);
  }
  const sshPort = Number(options['ssh-port']);
  if (sshPort !== 0 && !(await portIsFree(options.host, sshPort))) {
    supervisor.fail(`${options.host}:${sshPort} (SSH) is already in use; stop what holds it or choose --ssh-port`, 2);
  }
  if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true, mode: 0o700 });

  // One password for both demo users, generated once and kept with the demo's data.
  const passwordFile = join(dataDir, 'demo-password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(9).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  const relayConfig = join(dataDir, 'relay.yaml');
  writeFileSync(relayConfig, [`listen:`, `  host: ${options.host}`, `  port: ${Number(options.port)}`, `dataDir: ${join(dataDir, 'relay')}`, `webRoot: ${join(repo, 'desktop/out/web')}`, `ssh:`, `  host: ${options.host}`, `  port: ${sshPort}`, ''].join('\n'));

  supervisor.say(`starting relay on ${relayUrl} (logs: ${logDir})`);
  const relayReady = async () => {
    await supervisor.waitFor('the relay to be ready', async () => {
      const response = await fetch(`${relayUrl}/readyz`).catch(() => undefined);
      return response?.ok ? true : undefined;
    });
  };
  supervisor.start({ name: 'relay', args: [...SERVER_NODE_FLAGS, join(repo, 'relay/bin/lightsout-relay.js'), '--config', relayConfig], env: { ...serverEnv(), LIGHTSOUT_DEMO_PASSWORD: password }, ready: relayReady });
  await relayReady();

  // bmcsim writes the agent's configuration (ports, the BMCs' TLS pin) each time it starts,
  // so a restarted bmcsim is followed by a restarted agent.
  const agentConfig = join(dataDir, 'agent.yaml');
  const agentState = join(dataDir, 'agent-state');
  let bmcEnvironment: Record<string, string> = {};
  const agent: DemoChild = {
    name: 'agent',
    args: [...SERVER_NODE_FLAGS, join(repo, 'agent/bin/lightsout-agent.js'), '--config', agentConfig],
    env: {},
    prepare: () => {
      agent.env = { ...serverEnv(), ...bmcEnvironment };
      writeAgentConfig(agentConfig, agentState, relayConfig);
    },
    ready: async () => {
      // The agent's own word, so the demo needs no credentials of the relay's to know it is up.
      await supervisor.waitFor('the agent to connect', () => (/control connection open/.test(supervisor.output('agent')) ? true : undefined));
    },
  };
  const bmcsim: DemoChild = {
    name: 'bmcsim',
    args: [join(repo, 'bmcsim/bin/bmcsim.js'), '--count', options.count, '--address', '127.0.0.1', '--relay', relayUrl, '--agent-config', agentConfig],
    env: {},
    ready: async () => {
      const output = await supervisor.waitFor('bmcsim to start its BMCs', () => {
        const text = supervisor.output('bmcsim');
        return /bmcsim: \d+ BMCs up/.test(text) ? text : undefined;
      });
      bmcEnvironment = {};
      for (const match of output.matchAll(/\b(BMCSIM_[A-Z_]+)=(\S+)/g)) bmcEnvironment[match[1]!] = match[2]!;
    },
    dependents: ['agent'],
  };

  supervisor.say(`starting ${options.count} simulated BMCs`);
  supervisor.start(bmcsim);
  await bmcsim.ready!();
  supervisor.say('starting the agent (outbound to the relay)');
  supervisor.start(agent);
  await agent.ready!();

  // The port the relay took (0 asks for a free one) and the fingerprint users verify on first connect.
  const hostKey = (await (await fetch(`${relayUrl}/v1/ssh/host-key`)).json()) as { fingerprint: string; port: number | null };
  process.stdout.write(
    demoBannerText({
      title: 'Lightsout demo is running',
      url: relayUrl,
      password,
      logDir,
      sections: [[`SSH: node cli/bin/lightsout.js ssh-keys add ~/.ssh/id_ed25519.pub   (once, after login)`, `     ssh -p ${hostKey.port} sim-01@${options.host}   host key ${hostKey.fingerprint}`]],
    }),
  );
  if (process.env['DISPLAY'] && process.stdout.isTTY) supervisor.openBrowser(`${relayUrl}/`);
  if (options['exit-when-ready']) {
    await supervisor.stopAll();
    return;
  }
  await supervisor.untilSignal();
  supervisor.say('stopping');
  await supervisor.stopAll();
}

/**
 * The agent's configuration as bmcsim wrote it, pointed at this relay and the
 * demo's state directory. The first run also mints a join token on the relay
 * host; later runs reuse the agent's enrolled key.
 */
function writeAgentConfig(agentConfig: string, agentState: string, relayConfig: string): void {
  let config = readFileSync(agentConfig, 'utf8')
    .replace(/^relay:.*$/m, `relay: ${relayUrl}`)
    .replace(/^stateDir:.*$/m, `stateDir: ${agentState}`)
    .replace(/^name:.*$/m, `name: ${DATACENTER}-agent`);
  // The demo's relay speaks plain http on --host; off loopback the agent refuses that unless told (agent/README.md).
  if (!/^(127\.|localhost$|\[?::1\]?$)/.test(options.host) && !/^allowInsecureRelay:/m.test(config)) config += '\nallowInsecureRelay: true\n';
  if (!existsSync(join(agentState, 'identity.json'))) {
    const minted = spawnSync(process.execPath, [join(repo, 'relay/bin/lightsout-relay.js'), 'join-token', 'create', '--region', REGION, '--datacenter', DATACENTER, '--tenant', 'demo', '--config', relayConfig], { cwd: repo, encoding: 'utf8' });
    if (minted.status !== 0) supervisor.fail(`could not create a join token: ${minted.stderr}`);
    const joinTokenFile = join(dataDir, 'join-token');
    writeFileSync(joinTokenFile, minted.stdout.trim(), { mode: 0o600 });
    config += `\njoinTokenFile: ${joinTokenFile}\n`;
  }
  writeFileSync(agentConfig, config, { mode: 0o600 });
}

main().catch((error: unknown) => supervisor.report(error));
