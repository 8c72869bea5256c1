/**
 * The demo: a relay (embedded OP, SQLite), a simulated BMC fleet and one
 * agent enrolled with a join token, all on loopback. Prints the web console
 * URL and the demo credentials, then runs until Ctrl-C and stops exactly what
 * it started. State (relay store, agent key, password) persists in the data
 * directory, so a second run picks up the same identities.
 *
 *   scripts/demo.sh [--count N] [--port P] [--data-dir DIR] [--fresh]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: options } = parseArgs({
  options: {
    count: { type: 'string', default: process.env['LIGHTSOUT_DEMO_COUNT'] ?? '6' },
    port: { type: 'string', default: process.env['LIGHTSOUT_DEMO_PORT'] ?? '8080' },
    host: { type: 'string', default: process.env['LIGHTSOUT_DEMO_HOST'] ?? '127.0.0.1' },
    'data-dir': { type: 'string', default: process.env['LIGHTSOUT_DEMO_DIR'] ?? join(repo, '.data/demo') },
    fresh: { type: 'boolean', default: false },
    'exit-when-ready': { type: 'boolean', default: false },
  },
});

const dataDir = resolve(options['data-dir']);
const logDir = join(dataDir, 'logs');
const relayUrl = `http://${options.host}:${options.port}`;
const REGION = 'eu-central';
const DATACENTER = 'fra1';
const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

function say(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  void stopAll().then(() => process.exit(1));
  throw new Error(message);
}

/** One child process, output to a log file (and kept in memory for the few lines we parse). */
function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, args, { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let captured = '';
  const capture = (chunk: Buffer) => {
    log.write(chunk);
    if (captured.length < 1_000_000) captured += chunk.toString('utf8');
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  child.on('exit', (code, signal) => {
    log.end();
    if (!stopping) fail(`${name} exited (${signal ?? `code ${code}`}); see ${join(logDir, `${name}.log`)}`);
  });
  children.push({ name, child });
  return { child, output: () => captured };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}; logs in ${logDir}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function stopAll(): Promise<void> {
  stopping = true;
  for (const { child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true, mode: 0o700 });

  // One password for both demo users, generated once and kept with the demo's data.
  const passwordFile = join(dataDir, 'demo-password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(9).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  const relayConfig = join(dataDir, 'relay.yaml');
  writeFileSync(relayConfig, [`listen:`, `  host: ${options.host}`, `  port: ${Number(options.port)}`, `dataDir: ${join(dataDir, 'relay')}`, `webRoot: ${join(repo, 'desktop/out/web')}`, ''].join('\n'));

  say(`starting relay on ${relayUrl} (logs: ${logDir})`);
  start('relay', [join(repo, 'relay/bin/lightsout-relay.js'), '--config', relayConfig], { LIGHTSOUT_DEMO_PASSWORD: password });
  await waitFor('the relay to be ready', async () => {
    const response = await fetch(`${relayUrl}/readyz`).catch(() => undefined);
    return response?.ok ? true : undefined;
  });

  say(`starting ${options.count} simulated BMCs`);
  const agentConfig = join(dataDir, 'agent.yaml');
  const bmcsim = start('bmcsim', [join(repo, 'bmcsim/bin/bmcsim.js'), '--count', options.count, '--address', '127.0.0.1', '--relay', relayUrl, '--agent-config', agentConfig]);
  await waitFor('bmcsim to start its BMCs', () => (/bmcsim: \d+ BMCs up/.test(bmcsim.output()) ? true : undefined));
  const bmcEnvironment: Record<string, string> = {};
  for (const match of bmcsim.output().matchAll(/\b(BMCSIM_[A-Z_]+)=(\S+)/g)) bmcEnvironment[match[1]!] = match[2]!;

  // First run: mint a join token on the relay host; later runs reuse the agent's enrolled key.
  const agentState = join(dataDir, 'agent-state');
  let config = readFileSync(agentConfig, 'utf8')
    .replace(/^relay:.*$/m, `relay: ${relayUrl}`)
    .replace(/^stateDir:.*$/m, `stateDir: ${agentState}`)
    .replace(/^name:.*$/m, `name: ${DATACENTER}-agent`);
  if (!existsSync(join(agentState, 'identity.json'))) {
    const minted = spawnSync(process.execPath, [join(repo, 'relay/bin/lightsout-relay.js'), 'join-token', 'create', '--region', REGION, '--datacenter', DATACENTER, '--config', relayConfig], { cwd: repo, encoding: 'utf8' });
    if (minted.status !== 0) fail(`could not create a join token: ${minted.stderr}`);
    const joinTokenFile = join(dataDir, 'join-token');
    writeFileSync(joinTokenFile, minted.stdout.trim(), { mode: 0o600 });
    config += `\njoinTokenFile: ${joinTokenFile}\n`;
  }
  writeFileSync(agentConfig, config, { mode: 0o600 });

  say('starting the agent (outbound to the relay)');
  start('agent', [join(repo, 'agent/bin/lightsout-agent.js'), '--config', agentConfig], bmcEnvironment);
  await waitFor('the agent to connect', async () => {
    const metrics = await fetch(`${relayUrl}/metrics`).then((response) => response.text()).catch(() => '');
    return /^lightsout_agents_connected [1-9]/m.test(metrics) ? true : undefined;
  });

  const banner = [
    '',
    '  Lightsout demo is running',
    '',
    `  web console   ${relayUrl}/`,
    `  API docs      ${relayUrl}/docs`,
    '',
    `  provider admin   user admin      password ${password}`,
    `  tenant operator  user operator   password ${password}   (tenant "demo")`,
    '',
    `  CLI: node cli/bin/lightsout.js login --relay ${relayUrl}`,
    `       node cli/bin/lightsout.js servers list`,
    '',
    `  logs: ${logDir}   stop: Ctrl-C`,
    '',
  ];
  process.stdout.write(`${banner.join('\n')}\n`);
  if (process.env['DISPLAY'] && process.stdout.isTTY) spawn('xdg-open', [`${relayUrl}/`], { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
  if (options['exit-when-ready']) {
    await stopAll();
    return;
  }
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  say('stopping');
  await stopAll();
}

main().catch((error: unknown) => {
  if (!stopping) {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
    void stopAll().then(() => process.exit(1));
  }
});
