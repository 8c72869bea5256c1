import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import type { ServerList, ServerView } from '@lightsout/shared';
import { eventually, type TrackedProcess } from '../src/testing/processes.js';
import { cli, loginThroughDeviceFlow, startAgentProcess, startRelayProcess } from '../src/testing/stack.js';

/**
 * The whole chain as users run it: real relay process, real agent process, real CLI
 * process, real embedded OIDC device flow. Nothing here is simulated; the
 * only test code is the "browser" that clicks through the OP's pages as the
 * user would.
 */
const HEARTBEAT_MS = 250;
/** The relay marks an agent offline after 3 missed heartbeats (750 ms); the rest is slack for a loaded CI machine. */
const OFFLINE_DEADLINE_MS = HEARTBEAT_MS * 3 + 4000;
const ONLINE_DEADLINE_MS = 60_000;
const PASSWORD = 'foundation-test-password';

const root = mkdtempSync(join(tmpdir(), 'lightsout-foundation-'));
const relayData = join(root, 'relay-data');
const cliEnv = { LIGHTSOUT_CONFIG_DIR: join(root, 'cli-config') };
const started: TrackedProcess[] = [];
let port = 0;
let relayUrl = '';
let relay: TrackedProcess | undefined;

function track<T extends TrackedProcess>(process: T): T {
  started.push(process);
  return process;
}

async function servers(): Promise<ServerView[]> {
  const result = await cli(['servers', 'list', '--json'], cliEnv);
  if (result.code !== 0) throw new Error(`servers list exited ${result.code}: ${result.stderr}`);
  return (JSON.parse(result.stdout) as ServerList).servers;
}

/** The same list straight from the API with the CLI's stored token: cheap enough to poll tightly. */
async function apiServers(): Promise<ServerView[]> {
  const stored = JSON.parse(readFileSync(join(cliEnv.LIGHTSOUT_CONFIG_DIR, 'credentials.json'), 'utf8')) as { sessions: Record<string, { accessToken: string }> };
  const response = await fetch(`${relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${stored.sessions[relayUrl]!.accessToken}` } });
  if (!response.ok) throw new Error(`GET /v1/servers: ${response.status}`);
  return ((await response.json()) as ServerList).servers;
}

const ours = (list: ServerView[]) => list.filter((server) => server.id === 'fnd-web-01' || server.id === 'fnd-db-01');

/** Waits (bounded) until the relay shows both servers in `state`, then asserts the real CLI says the same. */
async function waitForAgent(state: 'online' | 'offline', timeoutMs: number): Promise<{ list: ServerView[]; seenAt: number }> {
  await eventually(`both servers ${state}`, timeoutMs, async () => {
    const list = ours(await apiServers());
    return list.length === 2 && list.every((server) => server.agent === state) ? true : undefined;
  });
  const seenAt = Date.now();
  const list = ours(await servers());
  expect(list.map((server) => [server.id, server.agent]).sort()).toEqual([
    ['fnd-db-01', state],
    ['fnd-web-01', state],
  ]);
  return { list, seenAt };
}

function writeAgentConfig(name: string, stateDir: string): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      relay: relayUrl,
      name,
      stateDir,
      log: { level: 'warn' },
      control: { backoffBaseMs: 50, backoffCapMs: 1000, stableAfterMs: 5000, requestTimeoutMs: 5000 },
      credentials: [{ id: 'lab', username: 'admin', passwordEnv: 'FOUNDATION_BMC_PASSWORD' }],
      servers: [
        { id: 'fnd-web-01', name: 'web-01.fra1', tenant: 'demo', rack: 'r12', labels: { role: 'web' }, ipmi: { host: '127.0.0.1', port: 9, credentials: 'lab' }, vnc: { url: 'vnc://127.0.0.1:5999' } },
        { id: 'fnd-db-01', name: 'db-01.fra1', tenant: 'demo', rack: 'r14', serial: { url: 'ws://127.0.0.1:9/console0' } },
      ],
    }),
  );
  return file;
}

const agentEnv = { FOUNDATION_BMC_PASSWORD: 'bmc-secret-never-logged' };

beforeAll(async () => {
  port = await freeTcpPort();
  relayUrl = `http://127.0.0.1:${port}`;
  relay = track(await startRelayProcess({ port, dataDir: relayData, heartbeatIntervalMs: HEARTBEAT_MS, password: PASSWORD, configDir: root }));
}, 120_000);

afterAll(async () => {
  for (const process of started.reverse()) await process.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('foundation: relay + agent + CLI end to end', () => {
  let joinToken = '';

  it('logs in through the device flow as the user would', async () => {
    const login = track(await loginThroughDeviceFlow(relayUrl, cliEnv, 'admin', PASSWORD));
    expect((await login.exited).code).toBe(0);
    expect(login.stderr).toMatch(/To log in to .*, open\n\n {2}http\S+\n\nand confirm the code {2}\S+/);
    expect(login.stderr).toMatch(/Logged in to .* as admin \(tenant provider, role provider-admin\)/);
    const whoami = await cli(['whoami', '--json'], cliEnv);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ username: 'admin', role: 'provider-admin' });
  }, 120_000);

  it('creates a join token as admin', async () => {
    const created = await cli(['agents', 'token', 'create', '--region', 'eu-central', '--datacenter', 'fra1', '--tenant', 'demo', '--json'], cliEnv);
    expect(created.code, created.stderr).toBe(0);
    const body = JSON.parse(created.stdout) as { token: string; region: string; datacenter: string };
    expect(body).toMatchObject({ region: 'eu-central', datacenter: 'fra1' });
    joinToken = body.token;
  }, 60_000);

  it('enrolls a real agent, whose servers appear online with addresses only', async () => {
    const agent = track(startAgentProcess(writeAgentConfig('fra1-agent', join(root, 'agent-state')), { ...agentEnv, LIGHTSOUT_JOIN_TOKEN: joinToken }));
    const { list } = await waitForAgent('online', ONLINE_DEADLINE_MS);
    const web = list.find((server) => server.id === 'fnd-web-01')!;
    expect(web).toMatchObject({ name: 'web-01.fra1', tenant: 'demo', region: 'eu-central', datacenter: 'fra1', rack: 'r12', labels: { role: 'web' } });
    expect(web.endpoints).toEqual({ ipmi: '127.0.0.1:9', vnc: 'vnc://127.0.0.1:5999' });
    expect(JSON.stringify(list)).not.toContain('bmc-secret-never-logged');
    expect(agent.stdout + agent.stderr).not.toContain('bmc-secret-never-logged');
    const agents = await cli(['agents', 'list', '--json'], cliEnv);
    expect((JSON.parse(agents.stdout) as { agents: Array<{ name: string; status: string }> }).agents).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'fra1-agent', status: 'online' })]),
    );
    const table = await cli(['servers', 'list'], cliEnv);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+TENANT\s+REGION\s+DC\s+RACK\s+POWER\s+AGENT\n/);
    expect(table.stdout).toMatch(/fnd-web-01\s+web-01\.fra1\s+demo\s+eu-central\s+fra1\s+r12\s+\S+\s+online/);
  }, 120_000);

  it('shows the servers offline within the heartbeat window after kill -9 of the agent, and online after its restart', async () => {
    const agent = started.find((process) => process.name === 'agent' && process.running)!;
    await agent.kill('SIGKILL');
    const killedAt = Date.now();
    const { seenAt } = await waitForAgent('offline', OFFLINE_DEADLINE_MS);
    console.log(`relay showed the agent offline ${seenAt - killedAt} ms after kill -9`);
    // Restart: the stored identity is used, no join token needed any more.
    track(startAgentProcess(writeAgentConfig('fra1-agent', join(root, 'agent-state')), agentEnv));
    await waitForAgent('online', ONLINE_DEADLINE_MS);
  }, 120_000);

  it('marks a frozen agent offline by missed heartbeats (socket still open), and it comes back by itself', async () => {
    const agent = started.find((process) => process.name === 'agent' && process.running)!;
    const frozenAt = Date.now();
    agent.child.kill('SIGSTOP');
    try {
      const { seenAt } = await waitForAgent('offline', OFFLINE_DEADLINE_MS);
      // TCP is still up: only the relay's heartbeat supervision (3 × 250 ms) can have noticed.
      expect(seenAt - frozenAt).toBeGreaterThanOrEqual(HEARTBEAT_MS * 2);
      console.log(`relay showed the frozen agent offline ${seenAt - frozenAt} ms after SIGSTOP`);
    } finally {
      agent.child.kill('SIGCONT');
    }
    // The relay closed the connection with HEARTBEAT_TIMEOUT; the thawed agent reconnects on its own.
    await waitForAgent('online', ONLINE_DEADLINE_MS);
  }, 120_000);

  it('re-registers without operator action when the relay process restarts on the same data dir', async () => {
    await relay!.kill('SIGKILL');
    relay = track(await startRelayProcess({ port, dataDir: relayData, heartbeatIntervalMs: HEARTBEAT_MS, password: PASSWORD, configDir: root }));
    await waitForAgent('online', ONLINE_DEADLINE_MS);
  }, 90_000);

  it('renews an expired login with the refresh token', async () => {
    const file = join(cliEnv.LIGHTSOUT_CONFIG_DIR, 'credentials.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { sessions: Record<string, { accessToken: string; expiresAt: number }> };
    const before = stored.sessions[relayUrl]!.accessToken;
    stored.sessions[relayUrl]!.expiresAt = 0;
    writeFileSync(file, JSON.stringify(stored));
    expect((await servers()).length).toBeGreaterThanOrEqual(2);
    const after = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
    expect(after.sessions[relayUrl]!.accessToken).not.toBe(before);
    expect(after.sessions[relayUrl]!.expiresAt).toBeGreaterThan(Date.now() / 1000);
  }, 60_000);

  it('refuses a used join token: the agent exits non-zero saying JOIN_TOKEN_USED', async () => {
    const second = track(startAgentProcess(writeAgentConfig('second-agent', join(root, 'second-state')), { ...agentEnv, LIGHTSOUT_JOIN_TOKEN: joinToken }));
    const { code } = await second.exited;
    expect(code).toBe(3);
    expect(second.stderr).toMatch(/^error JOIN_TOKEN_USED: enrollment refused: .*\nhint: .*lightsout agents token create/m);
  }, 60_000);

  it('lists join tokens (used by the agent, never the value), revokes one not used yet, and finds both in the audit log', async () => {
    const listed = await cli(['agents', 'token', 'list', '--json'], cliEnv);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain(joinToken);
    expect((JSON.parse(listed.stdout) as { joinTokens: Array<{ state: string; createdByName: string }> }).joinTokens).toEqual([expect.objectContaining({ state: 'used', createdByName: 'admin' })]);
    const spare = JSON.parse((await cli(['agents', 'token', 'create', '--region', 'eu-central', '--datacenter', 'fra1', '--tenant', 'demo', '--json'], cliEnv)).stdout) as { id: string; token: string };
    const revoked = await cli(['agents', 'token', 'revoke', spare.id.slice(0, 12)], cliEnv);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(`join token ${spare.id.slice(0, 16)} revoked; an agent enrolling with it is refused\n`);
    const refused = track(startAgentProcess(writeAgentConfig('spare-agent', join(root, 'spare-state')), { ...agentEnv, LIGHTSOUT_JOIN_TOKEN: spare.token }));
    expect((await refused.exited).code).toBe(3);
    expect(refused.stderr).toMatch(/^error JOIN_TOKEN_INVALID: /m);
    const audit = await cli(['audit', 'search', '--user', 'admin', '--action', 'join-token', '--json'], cliEnv);
    expect(audit.code, audit.stderr).toBe(0);
    expect((JSON.parse(audit.stdout) as { records: Array<{ action: string; actor: string }> }).records.map((record) => `${record.actor} ${record.action}`)).toEqual(['admin join-token.revoke', 'admin join-token.create', 'admin join-token.create']);
    const human = await cli(['audit', 'search', '--since', 'yesterday'], cliEnv);
    expect(human.code).not.toBe(0);
    expect(human.stderr).toMatch(/^error VALIDATION_FAILED: --since yesterday is not a time/m);
  }, 60_000);

  it('revokes an agent: it is disconnected, exits 3 with AGENT_REVOKED, and its key is refused from then on', async () => {
    const agent = started.find((process) => process.name === 'agent' && process.running)!;
    const { agents } = JSON.parse((await cli(['agents', 'list', '--json'], cliEnv)).stdout) as { agents: Array<{ id: string; name: string; revoked: boolean }> };
    const enrolled = agents.find((entry) => entry.name === 'fra1-agent' && !entry.revoked)!;
    const revoke = await cli(['agents', 'revoke', enrolled.id, '--json'], cliEnv);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ id: enrolled.id, revoked: true });
    expect((await agent.exited).code).toBe(3);
    expect(agent.stderr).toMatch(/^error AGENT_REVOKED: /m);
    await waitForAgent('offline', OFFLINE_DEADLINE_MS);
    const again = track(startAgentProcess(writeAgentConfig('fra1-agent', join(root, 'agent-state')), agentEnv));
    expect((await again.exited).code).toBe(3);
    expect(again.stderr).toMatch(/^error AGENT_REVOKED: /m);
  }, 120_000);

  it('logs out: the stored login is gone and its refresh token is revoked at the OP', async () => {
    const file = join(cliEnv.LIGHTSOUT_CONFIG_DIR, 'credentials.json');
    const { sessions } = JSON.parse(readFileSync(file, 'utf8')) as { sessions: Record<string, { refreshToken: string; tokenEndpoint: string; clientId: string; audience: string }> };
    const session = sessions[relayUrl]!;
    const logout = await cli(['logout'], cliEnv);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toBe(`Logged out of ${relayUrl}.\n`);
    expect(existsSync(file)).toBe(false);
    const refresh = await fetch(session.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: session.clientId, resource: session.audience }).toString(),
    });
    expect(refresh.status).toBe(400);
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
    const after = await cli(['servers', 'list', '--relay', relayUrl], cliEnv);
    expect(after.code).toBe(3);
  }, 60_000);
});
