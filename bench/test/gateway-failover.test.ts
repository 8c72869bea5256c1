import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type SessionCreated, StreamClient, routeLocator } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loginWithPassword, postgresForThisFile } from '@lightsout/relay/testing';
import { seededBytes, sha256, startSerialWebSocketSourceSink } from '@lightsout/integration/bmc-peers';
import { until } from '../lib/processes.js';
import { STACK_PASSWORD, type Stack, startStack } from '../lib/stack.js';
import { WEB_CONSOLE_ROOT, launchChromium, signIn } from '../lib/web-console.js';
import { nodeSocketFactory, sessionConnection } from '../lib/stream-socket.js';

/**
 * Consoles across gateways, as processes on one PostgreSQL store: a manager
 * and two gateways of one region, an agent with both gateways in its list.
 * A console is created at the manager, streams 8 MiB each way through the
 * gateway holding the agent, and that gateway is killed with SIGKILL halfway:
 * the agent must be on the other gateway within 5 s, and the client — told
 * nothing but a dropped socket — asks the route where the agent is now and
 * resumes there: output byte-exact, input byte-exact unless the agent said it
 * discarded some as stale (docs/streams.md). Once on a quiet machine and once
 * beside a CPU hog (load about 8). Then: a user disabled at the manager loses
 * their console on a gateway within a second.
 */
const postgres = postgresForThisFile();
const MIB = 1024 * 1024;
const TOTAL = Number(process.env['LIGHTSOUT_STREAM_TEST_MIB'] ?? 8) * MIB;
const PASSWORD = 'gateway-failover-password';
const BROWSER_BYTES = 256 * 1024;

async function api(stack: Stack, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.relayUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function createSession(stack: Stack, token: string, serverId: string): Promise<SessionCreated> {
  const created = await api(stack, 'POST', `/v1/servers/${serverId}/sessions`, token, { kind: 'serial' });
  if (created.status !== 201) throw new Error(`session on ${serverId}: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body as unknown as SessionCreated;
}

/**
 * Processes runnable right now (/proc/stat `procs_running`, proc(5)): what the load average is an
 * exponentially smoothed one-minute mean of. Waiting for that mean to reach 6 takes well over a
 * minute from a quiet machine (6 hogs bring it to 4.5 in 60 s); the run queue shows the load at once.
 */
function runnableNow(): number {
  const line = /^procs_running (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return line === null ? 0 : Number(line[1]);
}

/** Busy-looping children until `ms` is over (each stops by itself) or they are killed: the load average climbs towards their count plus ours. */
function cpuHog(processes: number, ms: number): { stop(): Promise<void> } {
  const children: ChildProcess[] = [];
  for (let index = 0; index < processes; index += 1) {
    children.push(spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], { stdio: 'ignore' }));
  }
  return {
    async stop() {
      await Promise.all(
        children.map((child) => {
          if (child.exitCode !== null || child.signalCode !== null) return undefined;
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          return exited;
        }),
      );
    },
  };
}

describe('consoles across gateways (manager + two gateways of a region, processes, PostgreSQL)', () => {
  const consoles = new Map<string, Awaited<ReturnType<typeof startSerialWebSocketSourceSink>>>();
  let stack: Stack;

  beforeAll(async () => {
    for (const id of ['web-01', 'web-02', 'web-03']) consoles.set(id, await startSerialWebSocketSourceSink(TOTAL));
    // The console a browser opens: a little output, not 8 MiB for xterm.js to draw.
    consoles.set('web-04', await startSerialWebSocketSourceSink(BROWSER_BYTES));
    stack = await startStack(
      [...consoles].map(([id, peer]) => ({ id, serial: { url: peer.url } })),
      {
        postgresUrl: postgres().url,
        relays: 3,
        agentRelays: [1, 2],
        roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
        // Every replica serves the web console: the browser test signs in at the manager.
        relayConfig: { webRoot: WEB_CONSOLE_ROOT },
        // Connections, presence and failover are logged at info: a failure shows what each process saw.
        relayLogLevel: 'info',
        agentLogLevel: 'info',
      },
    );
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
    for (const peer of consoles.values()) await peer.close();
  });

  /** The processes' own log lines (not one line per HTTP request), the last `count` of them: what a failure is read with. */
  const logTail = (count = 120) =>
    stack
      .output()
      .split('\n')
      .filter((line) => line !== '' && !/"(incoming request|request completed)"/.test(line))
      .slice(-count)
      .join('\n');

  /** Which relay of the stack a stream URL points at. */
  const relayIndexOf = (streamUrl: string) => stack.relayUrls.findIndex((url) => new URL(url).host === new URL(streamUrl).host);

  async function failover(serverId: string, label: string): Promise<void> {
    try {
      await failoverOnce(serverId, label);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- what the relays (${stack.relayUrls.join(', ')}) and the agent logged last ---\n${logTail()}`, { cause: error });
    }
  }

  async function failoverOnce(serverId: string, label: string): Promise<void> {
    const peer = consoles.get(serverId)!;
    const session = await createSession(stack, stack.operatorToken, serverId);
    const holder = relayIndexOf(session.streamUrl);
    // Created at the manager, streamed at the gateway holding the agent.
    expect(holder, `${label}: stream URL ${session.streamUrl}`).toBeGreaterThan(0);
    expect(session.routeUrl).toBe(`${stack.relayUrl}/v1/streams/${session.sessionId}/route`);
    const other = holder === 1 ? 2 : 1;
    const received = createHash('sha256');
    let receivedBytes = 0;
    const states: string[] = [];
    let closed: string | undefined;
    let refused = 0;
    const client = new StreamClient({
      ...sessionConnection(session, nodeSocketFactory()),
      onData: (chunk) => {
        received.update(chunk);
        receivedBytes += chunk.length;
      },
      onState: (state) => states.push(state),
      onClose: (code, reason) => (closed = `${code} ${reason}`),
      // The agent discards input read right after its event loop stood still (docs/streams.md): none may be, here.
      onInputRefused: (bytes) => (refused += bytes),
    });
    await until(() => client.state === 'streaming', 30_000, `${label}: streaming`);
    const upstream = seededBytes(TOTAL, 7);
    let agentMovedMs: number | undefined;
    for (let at = 0; at < upstream.length; at += 256 * 1024) {
      client.write(upstream.subarray(at, at + 256 * 1024));
      if (agentMovedMs === undefined && at >= TOTAL / 2) {
        const killedAt = performance.now();
        await stack.killRelay(holder);
        // The agent is on the other gateway when the route (asked at the manager) says so.
        const ask = routeLocator(session.routeUrl!, (url, init) => fetch(url, init));
        const target = `${stack.relayUrls[other]!.replace(/^http/, 'ws')}/v1/streams/${session.sessionId}`;
        let answer: string | undefined;
        const deadline = killedAt + 5000;
        // Bounded by the deadline.
        while ((answer = await ask(client.currentToken).catch(() => undefined)) !== target) {
          if (performance.now() > deadline) throw new Error(`${label}: the agent was not on the other gateway within 5 s (route says ${answer})`);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        agentMovedMs = performance.now() - killedAt;
      }
      await until(() => client.canWrite || closed !== undefined, 60_000, `${label}: send window`);
      expect(closed, label).toBeUndefined();
    }
    const sent = await peer.sent;
    await until(
      () => (receivedBytes >= TOTAL && peer.received().bytes + refused >= TOTAL) || closed !== undefined,
      90_000,
      () => `${label}: both directions complete (client got ${receivedBytes}, console got ${peer.received().bytes} of ${TOTAL}; client ${client.state}; states ${states.join(',')})`,
    );
    console.log(`${label}: agent on the other gateway ${agentMovedMs?.toFixed(0)} ms after the kill; load average ${loadavg()[0]!.toFixed(1)}, run queue ${runnableNow()}; input discarded by the agent as stale: ${refused} bytes`);
    expect(closed, label).toBeUndefined();
    expect(agentMovedMs!).toBeLessThan(5000);
    expect(client.streamUrl).toBe(`${stack.relayUrls[other]!.replace(/^http/, 'ws')}/v1/streams/${session.sessionId}`);
    expect(states).toContain('reconnecting');
    // The console's output: every byte, once, in order.
    expect(receivedBytes).toBe(TOTAL);
    expect(received.digest('hex')).toBe(sent.sha256);
    // Input: every byte reached the console once, except what the agent discarded and said so (it read it
    // right after its event loop stood still over 2 s, as a starved process does under heavy load).
    expect(peer.received().bytes + refused, label).toBe(TOTAL);
    if (refused === 0) expect(peer.received().sha256).toBe(sha256(upstream));
    await client.leave();
    // The killed gateway comes back (a new replica) for the next run.
    await stack.startRelay(holder);
  }

  it(`kill -9 of the gateway carrying a console streaming ${TOTAL / MIB} MiB: the agent is on the other gateway within 5 s and the console resumes byte-exact`, { timeout: 240_000 }, async () => {
    await failover('web-01', 'quiet');
  });

  it('the same beside a CPU hog (about 8 runnable processes on the run queue)', { timeout: 300_000 }, async () => {
    // As many busy processes as it takes to bring the load average to about 8 (others may be loading the machine
    // already); each stops by itself after 150 s whatever happens to this test.
    const hogs = Math.min(6, Math.max(2, Math.round(8 - loadavg()[0]!)));
    const hog = cpuHog(hogs, 150_000);
    try {
      // Load is there once the hogs are on the run queue (6 runnable on 2 cores), whatever the smoothed average says yet.
      await until(() => runnableNow() >= Math.min(6, hogs), 30_000, () => `the CPU hogs to be runnable (run queue ${runnableNow()}, load average ${loadavg()[0]!.toFixed(1)})`);
      await failover('web-02', 'loaded');
    } finally {
      await hog.stop();
    }
  });

  it('a user disabled at the manager loses their console on a gateway within a second', { timeout: 60_000 }, async () => {
    const created = await api(stack, 'POST', '/v1/users', stack.adminToken, { username: 'leaving-operator', password: PASSWORD, role: 'operator', tenant: 'demo' });
    expect(created.status).toBe(201);
    const token = (await loginWithPassword(stack.relayUrl, 'leaving-operator', PASSWORD)).accessToken;
    const session = await createSession(stack, token, 'web-03');
    expect(relayIndexOf(session.streamUrl)).toBeGreaterThan(0);
    const socket = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
    await once(socket, 'open');
    socket.send(JSON.stringify({ type: 'resume', offset: 0 }));
    // Spliced once the agent's resume arrives (after the relay's token).
    await new Promise<void>((resolve) => {
      socket.on('message', (data, binary) => {
        if (!binary && (JSON.parse(data.toString()) as { type: string }).type === 'resume') resolve();
      });
    });
    const closed = new Promise<{ code: number; at: number }>((resolve) => socket.once('close', (code) => resolve({ code, at: Date.now() })));
    const patched = await api(stack, 'PATCH', `/v1/users/${String(created.body['id'])}`, stack.adminToken, { disabled: true });
    const answered = Date.now();
    expect(patched.status).toBe(200);
    const { code, at } = await closed;
    console.log(`user disabled at the manager: console on gateway ${relayIndexOf(session.streamUrl)} closed ${at - answered} ms after the call answered`);
    expect(code).toBe(4403);
    expect(at - answered).toBeLessThanOrEqual(1000);
  });
  it('the web console, signed in at the manager, opens a serial console streamed through the gateway holding the agent: output arrives, typed input reaches the console', { timeout: 120_000 }, async () => {
    const holderUrl = await stack.agentHeldBy();
    expect(holderUrl === stack.relayUrls[1] || holderUrl === stack.relayUrls[2], `agent held by ${holderUrl}`).toBe(true);
    const peer = consoles.get('web-04')!;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      let streamUrl: string | undefined;
      let binaryBytes = 0;
      page.on('websocket', (socket) => {
        if (!socket.url().includes('/v1/streams/')) return;
        streamUrl = socket.url();
        socket.on('framereceived', ({ payload }) => {
          if (typeof payload !== 'string') binaryBytes += payload.length;
        });
      });
      await signIn(page, stack.relayUrl, 'operator', STACK_PASSWORD);
      await page.getByLabel('Filter servers').fill('web-04');
      const row = page.locator('[data-testid="server-row"][data-server-id="web-04"]').first();
      await row.click({ button: 'right' });
      await page.getByTestId('menu-open-serial').click();
      const state = page.locator('[data-testid="pane"]:has([data-testid="sol-console"][data-server-id="web-04"]) [data-testid="console-state"]');
      await state.and(page.locator('[data-state="streaming"]')).waitFor({ timeout: 60_000 });
      // Streamed by the gateway holding the agent, another origin than the manager that served the page.
      expect(new URL(streamUrl!).host).toBe(new URL(holderUrl!).host);
      await until(() => binaryBytes >= BROWSER_BYTES, 60_000, () => `the console's output in the page (${binaryBytes} of ${BROWSER_BYTES} bytes)`);
      await page.locator('[data-testid="sol-console"][data-server-id="web-04"] .xterm').click();
      await page.keyboard.type('typed-in-chromium\n');
      await until(() => peer.received().bytes >= 'typed-in-chromium\r'.length, 30_000, () => `the typed line at the console (${peer.received().bytes} bytes)`);
      console.log(`web console at the manager: serial console through ${streamUrl}, ${binaryBytes} bytes of output in frames, ${peer.received().bytes} typed bytes at the console`);
    } finally {
      await browser.close();
    }
  });
});
