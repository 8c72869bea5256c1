/**
 * The real stack as processes: a relay (relay/bin/lightsout-relay.js) and an
 * agent (agent/bin/lightsout-agent.js), each a child we own and stop. Used by
 * the stream end-to-end tests (kill -9 of the relay) and benchmarks. With
 * `relays: n` and a PostgreSQL URL, n relays share one store (one
 * deployment) and the agent gets all of them as its gateway list. `roles`
 * makes them a regional deployment: e.g. a manager and two gateways, with
 * the agent given only the gateways `agentRelays` names.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createJoinTokenAs, loginWithPassword } from '@lightsout/relay/testing';
import { freeTcpPort } from '@lightsout/lab';
import { waitFor } from '@lightsout/lab/wait';
import { STACK_ENV, STACK_NODE_FLAGS } from './stack-node-flags.js';

const relayBin = fileURLToPath(new URL('../../relay/bin/lightsout-relay.js', import.meta.url));
const agentBin = fileURLToPath(new URL('../../agent/bin/lightsout-agent.js', import.meta.url));
export const STACK_PASSWORD = 'lightsout-stack-password';

export interface StackServer {
  id: string;
  /** Default `demo`; another tenant must exist first (see StackOptions.beforeAgent). */
  tenant?: string;
  rack?: string;
  labels?: Record<string, string>;
  serial?: { url: string };
  vnc?: { url: string; credentials?: string };
  /** The BMC's web UI origin, and its TLS trust (absent: trust on first use). */
  web?: { url: string; tls?: { insecure?: boolean; fingerprint256?: string } };
  /** Agent config endpoint entries, as bmcsim's agent config writes them. */
  ipmi?: Record<string, unknown>;
  redfish?: Record<string, unknown>;
}

export interface Stack {
  /** The stack's directory: relay `i`'s data in `relay-data-{i}`, the agent's state in `agent-state`. */
  directory: string;
  /** The first relay's URL (where the tokens come from and the agent enrolled). */
  relayUrl: string;
  /** Every relay's URL, in the agent's order. */
  relayUrls: string[];
  operatorToken: string;
  adminToken: string;
  /** A relay's process id (for RSS measurements); the first by default. */
  relayPid(index?: number): number | undefined;
  /** True while the relay process at `index` runs (not yet started, killed or exited: false). */
  relayRunning(index?: number): boolean;
  /** The agent's process id (to freeze it with SIGSTOP). */
  agentPid(): number | undefined;
  /** SIGKILL the agent (no cleanup at all) and wait for it to be gone. */
  killAgent(): Promise<void>;
  /** Start the agent again with the same config and state directory (after killAgent). */
  startAgent(): void;
  /** An access token of `username` (default the operator) issued by relay `index`, or for a gateway by the deployment URL (cached). */
  tokenAt(index: number, username?: string): Promise<string>;
  /** The URL of the relay holding the agent's control connection, as the store says (PostgreSQL stacks); undefined when none does. */
  agentHeldBy(): Promise<string | undefined>;
  /** SIGKILL a relay process (no cleanup at all) and wait for it to be gone; the first by default. */
  killRelay(index?: number): Promise<void>;
  startRelay(index?: number): Promise<void>;
  /** What the relay and agent wrote so far (stdout and stderr, interleaved). */
  output(): string;
  close(): Promise<void>;
}

export interface StackOptions {
  agentEnv?: NodeJS.ProcessEnv;
  relayLogLevel?: string;
  /** The agent's log level (default warn). */
  agentLogLevel?: string;
  /** How many relays (default 1); more than one needs `postgresUrl` (one store for all). */
  relays?: number;
  postgresUrl?: string;
  /** Merged into each relay's `agents` config (e.g. heartbeatIntervalMs). */
  relayAgents?: Record<string, unknown>;
  /** Merged into each relay's configuration (e.g. `{ ssh: { port } }`). */
  relayConfig?: Record<string, unknown>;
  /** Merged into the agent's `control` config. */
  agentControl?: Record<string, unknown>;
  /** Merged into the agent's config at the top level (e.g. `metrics`, `poll`). */
  agentConfig?: Record<string, unknown>;
  /** The server ids to wait for (default: every one). */
  waitForServers?: string[];
  /** How long to wait for the agent to register them (default 90 s). */
  registerTimeoutMs?: number;
  /** Agent config `credentials` entries (passwords come from agentEnv). */
  agentCredentials?: Array<{ id: string; username: string; passwordEnv: string }>;
  /** Each relay's role (and region), by index; default every relay `all`. Managers and gateways need postgresUrl. */
  roles?: Array<{ role: 'all' | 'manager' | 'gateway'; region?: string }>;
  /** Which relays (indexes) the agent connects to, in its order; default all of them. */
  agentRelays?: number[];
  /** Each relay's recording policy file (dataDir/recording-policy.json, docs/streams.md); default none: text consoles recorded. */
  recordingPolicy?: Record<string, { sol?: boolean; serial?: boolean; vnc?: boolean; retentionDays?: number | null }>;
  /** Runs once the relays are up and before the agent starts, e.g. to create tenants. */
  beforeAgent?: (stack: Stack) => Promise<void>;
}


/** Children must not outlive the test or benchmark process, even when it dies without cleaning up. */
const everyChild = new Set<ChildProcess>();
/** Children we are stopping on purpose: their exit is not news. */
const stopping = new WeakSet<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

/**
 * `STACK_OUTPUT_DIR=DIR`: each relay's and agent's stdout and stderr also go to
 * DIR/<program>-<pid>.log, whole, for what V8 prints there in an experiment
 * (`STACK_NODE_FLAGS="--trace-gc-nvp"`); the in-memory log keeps only what a
 * failure report quotes.
 */
function keepOutput(child: ChildProcess): void {
  const directory = process.env['STACK_OUTPUT_DIR'];
  if (directory === undefined || directory === '') return;
  const program = child.spawnargs.find((argument) => /\.m?js$/.test(argument))?.split('/').pop() ?? 'process';
  const file = createWriteStream(join(directory, `${program}-${child.pid}.log`), { flags: 'a' });
  child.stdout?.on('data', (chunk: string) => file.write(chunk));
  child.stderr?.on('data', (chunk: string) => file.write(chunk));
  child.once('exit', () => file.end());
}

function own(child: ChildProcess, owned: Set<ChildProcess>, log: string[]): ChildProcess {
  owned.add(child);
  everyChild.add(child);
  child.once('exit', (code, signal) => {
    everyChild.delete(child);
    // A relay or agent dying under load is a finding: say so with its last words,
    // instead of letting the caller fail later on a vanished pid.
    if (owned.has(child) && !stopping.has(child)) {
      process.stderr.write(`stack: ${child.spawnargs.slice(1, 2).join(' ')} exited unexpectedly (${signal ?? `code ${code}`}); last output:\n${log.join('').slice(-4000)}\n`);
    }
  });
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  keepOutput(child);
  child.once('exit', () => owned.delete(child));
  return child;
}

export async function startStack(servers: StackServer[], options: StackOptions = {}): Promise<Stack> {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-stack-'));
  const count = options.relays ?? 1;
  if (count > 1 && options.postgresUrl === undefined) throw new Error('several relays need one store: pass postgresUrl');
  const ports: number[] = [];
  for (let index = 0; index < count; index += 1) ports.push(await freeTcpPort());
  const relayUrls = ports.map((port) => `http://127.0.0.1:${port}`);
  const relayUrl = relayUrls[0]!;
  const owned = new Set<ChildProcess>();
  const log: string[] = [];
  const relayConfigs = ports.map((port, index) => {
    const path = join(directory, `relay-${index}.json`);
    if (options.recordingPolicy !== undefined) {
      mkdirSync(join(directory, `relay-data-${index}`), { recursive: true });
      writeFileSync(join(directory, `relay-data-${index}`, 'recording-policy.json'), JSON.stringify(options.recordingPolicy));
    }
    writeFileSync(
      path,
      JSON.stringify({
        listen: { host: '127.0.0.1', port },
        dataDir: join(directory, `relay-data-${index}`),
        webRoot: join(directory, 'no-web'),
        logLevel: options.relayLogLevel ?? 'warn',
        // One deployment: its URL (the first relay's) names the issuer and every audience on each replica.
        ...(count > 1 ? { deploymentUrl: relayUrl } : {}),
        agents: { heartbeatIntervalMs: 500, ...options.relayAgents },
        ...(options.postgresUrl === undefined ? {} : { store: { driver: 'postgres', postgresUrl: options.postgresUrl } }),
        ...(options.roles?.[index] === undefined ? {} : { role: options.roles[index].role, deploymentUrl: relayUrl, ...(options.roles[index].region === undefined ? {} : { region: options.roles[index].region }) }),
        ...options.relayConfig,
        // One deployment, one at-rest key (it seals the signing keys and TOTP secrets every replica reads from the store).
        identity: { totpKeyFile: join(directory, 'at-rest.key'), ...(options.relayConfig?.['identity'] as Record<string, unknown> | undefined) },
      }),
    );
    return path;
  });
  const relays: (ChildProcess | undefined)[] = ports.map(() => undefined);
  let agent: ChildProcess | undefined;
  /** Set once the agent's config is written (below). */
  let spawnAgent: (() => void) | undefined;

  async function startRelay(index = 0): Promise<void> {
    relays[index] = own(spawn(process.execPath, [...STACK_NODE_FLAGS, relayBin, '--config', relayConfigs[index]!], { env: { ...process.env, ...STACK_ENV, LIGHTSOUT_DEMO_PASSWORD: STACK_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] }), owned, log);
    await waitFor(`relay ${index} to be ready`, async () => (await fetch(`${relayUrls[index]}/readyz`)).status === 200, { timeoutMs: 90_000, intervalMs: 50 });
  }

  const tokens = new Map<string, Promise<string>>();
  const stack: Stack = {
    directory,
    relayUrl,
    relayUrls,
    operatorToken: '',
    adminToken: '',
    relayPid: (index = 0) => relays[index]?.pid,
    relayRunning: (index = 0) => relays[index] !== undefined && relays[index].exitCode === null && relays[index].signalCode === null,
    agentPid: () => agent?.pid,
    async killAgent() {
      if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
      const exited = once(agent, 'exit');
      stopping.add(agent);
      agent.kill('SIGKILL');
      await exited;
    },
    startAgent() {
      if (spawnAgent === undefined) throw new Error('the stack has no agent config yet');
      spawnAgent();
    },
    tokenAt(index, username = 'operator') {
      const key = `${index}:${username}`;
      let token = tokens.get(key);
      // A gateway runs no identity provider: its users sign in at the deployment URL (the first relay).
      const issuing = options.roles?.[index]?.role === 'gateway' ? relayUrl : relayUrls[index]!;
      if (token === undefined) tokens.set(key, (token = loginWithPassword(issuing, username, STACK_PASSWORD).then((login) => login.accessToken)));
      return token;
    },
    async agentHeldBy() {
      if (options.postgresUrl === undefined) return undefined;
      const client = new pg.Client({ connectionString: options.postgresUrl });
      await client.connect();
      try {
        const result = await client.query<{ public_url: string }>("select r.public_url from agents a join replicas r on r.id = a.gateway_id where a.name = 'stack-agent'");
        return result.rows[0]?.public_url;
      } finally {
        await client.end();
      }
    },
    async killRelay(index = 0) {
      const relay = relays[index];
      if (!relay || relay.exitCode !== null) return;
      const exited = once(relay, 'exit');
      stopping.add(relay);
      relay.kill('SIGKILL');
      await exited;
    },
    startRelay,
    output: () => log.join(''),
    async close() {
      for (const child of owned) {
        stopping.add(child);
        // A frozen child ignores SIGTERM until it runs again.
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      await Promise.all([...owned].map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
      rmSync(directory, { recursive: true, force: true });
    },
  };

  try {
    // One after the other: the first seeds the shared store.
    for (let index = 0; index < count; index += 1) await startRelay(index);
    stack.adminToken = (await loginWithPassword(relayUrl, 'admin', STACK_PASSWORD)).accessToken;
    stack.operatorToken = (await loginWithPassword(relayUrl, 'operator', STACK_PASSWORD)).accessToken;
    await options.beforeAgent?.(stack);
    const join_ = await createJoinTokenAs(relayUrl, stack.adminToken, { region: 'eu', datacenter: 'fra1' });
    const stateDir = join(directory, 'agent-state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const agentConfig = join(directory, 'agent.json');
    writeFileSync(
      agentConfig,
      JSON.stringify({
        ...(count > 1 || options.agentRelays !== undefined ? { relays: (options.agentRelays ?? relayUrls.map((_url, index) => index)).map((index) => relayUrls[index]!) } : { relay: relayUrl }),
        name: 'stack-agent',
        stateDir,
        joinToken: join_.token,
        log: { level: options.agentLogLevel ?? 'warn' },
        control: { backoffBaseMs: 100, backoffCapMs: 1000, ...options.agentControl },
        ...(options.agentCredentials === undefined ? {} : { credentials: options.agentCredentials }),
        servers: servers.map((server) => ({ name: server.id, tenant: 'demo', rack: 'r1', ...server })),
        ...options.agentConfig,
      }),
    );
    spawnAgent = () => {
      agent = own(spawn(process.execPath, [...STACK_NODE_FLAGS, agentBin, '--config', agentConfig], { env: { ...process.env, ...STACK_ENV, ...options.agentEnv }, stdio: ['ignore', 'pipe', 'pipe'] }), owned, log);
    };
    spawnAgent();
    await waitFor(
      'the agent to register its servers',
      async () => {
        // The provider admin sees every tenant's servers.
        const response = await fetch(`${relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
        const body = (await response.json()) as { servers: { id: string; agent: string }[] };
        const online = new Set(body.servers.filter((view) => view.agent === 'online').map((view) => view.id));
        return (options.waitForServers ?? servers.map((server) => server.id)).every((id) => online.has(id));
      },
      { timeoutMs: options.registerTimeoutMs ?? 90_000, intervalMs: 50 },
    );
  } catch (error) {
    await stack.close();
    throw new Error(`stack failed to start: ${(error as Error).message}\n${log.join('').slice(-4000)}`, { cause: error });
  }
  return stack;
}
