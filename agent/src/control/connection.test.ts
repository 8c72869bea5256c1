import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import pino from 'pino';
import {
  CONTROL_PROTOCOL_VERSION,
  ControlCloseCode,
  ControlFeature,
  decodeAgentMessage,
  encodeControl,
  type AgentToRelay,
  type RelayToAgent,
  type ServerRegistration,
} from '@lightsout/shared';
import { ControlConnection, type ConnectionState, type ResponseOutcome } from './connection.js';
import { resolveRelayEndpoints, type RelayEndpoint } from './relay-endpoints.js';

/**
 * A minimal relay: real WebSocket server on a free loopback port that greets
 * each connection and records what the agent sends. Behaviour per test is
 * switched by flags so each scenario is a few lines.
 */
class TestRelay {
  readonly server: WebSocketServer;
  readonly tokens: string[] = [];
  /** The Host header of each connection. */
  readonly hosts: string[] = [];
  readonly received: AgentToRelay[][] = [];
  readonly sockets: WebSocket[] = [];
  ackHeartbeats = true;
  heartbeatIntervalMs = 100;
  /** What the welcome announces: the frame limit and the features. */
  maxFrameBytes = 1 << 20;
  features: string[] | undefined;
  refuseWith: { status: number; code: string } | undefined;
  readonly #waiters: Array<() => void> = [];

  private constructor(server: WebSocketServer) {
    this.server = server;
    server.on('connection', (socket, request) => {
      this.tokens.push(request.headers.authorization ?? '');
      this.hosts.push(request.headers.host ?? '');
      const messages: AgentToRelay[] = [];
      this.received.push(messages);
      this.sockets.push(socket);
      socket.on('message', (data) => {
        const message = decodeAgentMessage(data.toString());
        messages.push(message);
        if (message.type === 'heartbeat' && this.ackHeartbeats) this.send(socket, { v: 1, type: 'heartbeat-ack', seq: message.seq });
        this.#notify();
      });
      const features = this.features === undefined ? {} : { features: this.features };
      this.send(socket, { v: 1, type: 'welcome', agentId: 'agent-1', region: 'eu', datacenter: 'fra1', heartbeatIntervalMs: this.heartbeatIntervalMs, maxFrameBytes: this.maxFrameBytes, ...features });
      this.#notify();
    });
  }

  static async start(): Promise<TestRelay> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (_info, callback) => {
        const refusal = relay.refuseWith;
        if (refusal) callback(false, refusal.status, refusal.code, { 'content-type': 'application/json' });
        else callback(true);
      },
    });
    const relay: TestRelay = new TestRelay(server);
    await once(server, 'listening');
    return relay;
  }

  /** The base URL, as an agent config names it. */
  get base(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  send(socket: WebSocket, message: RelayToAgent): void {
    socket.send(encodeControl(message));
  }

  /** Resolves when `condition` holds, re-checked on every relay event; bounded. */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  async close(): Promise<void> {
    for (const socket of this.server.clients) socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const logger = pino({ level: 'silent' });

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

function registration(id: string, labels: Record<string, string> = {}): ServerRegistration {
  return { id, name: `${id}.fra1`, tenant: 'acme', rack: 'r1', labels, endpoints: { ipmi: '10.0.0.1:623' }, capabilities: ['power'] };
}
let tokenCounter = 0;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  overrides: Partial<ConstructorParameters<typeof ControlConnection>[0]> = {},
  endpoints: (relay: TestRelay) => readonly RelayEndpoint[] | Promise<readonly RelayEndpoint[]> = (relay) => [{ url: relay.base }],
) {
  const relay = await TestRelay.start();
  cleanups.push(() => relay.close());
  const connection = new ControlConnection({
    endpoints: async () => endpoints(relay),
    token: async () => `token-${++tokenCounter}`,
    backoff: { baseMs: 10, capMs: 50 },
    stableAfterMs: 60_000,
    logger,
    capabilities: ['power'],
    inventory: () => ({ v: CONTROL_PROTOCOL_VERSION, type: 'inventory', servers: [] }),
    onRequest: async (request) => ({ ok: true, result: { echo: request.params } }),
    ...overrides,
  });
  cleanups.push(() => connection.stop());
  const states: ConnectionState[] = [];
  connection.on('state', (state) => states.push(state));
  return { relay, connection, states };
}

const types = (messages: AgentToRelay[] | undefined) => (messages ?? []).map((message) => message.type);

describe('ControlConnection against a real WebSocket server', () => {
  it('sends hello then the inventory after the welcome, then heartbeats', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => types(relay.received[0]).filter((type) => type === 'heartbeat').length >= 2, 'two heartbeats');
    expect(types(relay.received[0]).slice(0, 2)).toEqual(['hello', 'inventory']);
    expect(relay.tokens[0]).toMatch(/^Bearer token-\d+$/);
    expect(connection.state).toBe('open');
  });

  it('reconnects with a fresh token and re-sends hello + inventory after the relay drops it', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'first inventory');
    relay.sockets[0]!.terminate();
    await relay.until(() => types(relay.received[1]).includes('inventory'), 'inventory after reconnect');
    expect(types(relay.received[1]).slice(0, 2)).toEqual(['hello', 'inventory']);
    expect(relay.tokens[1]).not.toBe(relay.tokens[0]);
  });

  it('terminates a relay that stops acknowledging heartbeats and reconnects', async () => {
    const { relay, connection } = await setup();
    relay.ackHeartbeats = false;
    connection.start();
    const disconnected = once(connection, 'disconnected');
    await relay.until(() => relay.received.length >= 2, 'a second connection');
    await disconnected;
    // Exactly MISSED_HEARTBEATS unanswered heartbeats went out before the agent gave up.
    expect(types(relay.received[0]).filter((type) => type === 'heartbeat')).toHaveLength(3);
  });

  it('keeps retrying while the relay is down, and connects when it is back', async () => {
    const { relay, connection, states } = await setup();
    relay.refuseWith = { status: 503, code: 'unavailable' };
    connection.start();
    await relay.until(() => states.filter((state) => state === 'waiting').length >= 3, 'three failed attempts');
    relay.refuseWith = undefined;
    await relay.until(() => connection.state === 'open', 'open');
    expect(relay.received).toHaveLength(1);
  });

  it('grows the backoff while failing and resets it after a stable connection', async () => {
    const { relay, connection } = await setup({ stableAfterMs: 0, random: () => 0.999 });
    const scheduled: Array<{ attempt: number; delayMs: number }> = [];
    connection.on('reconnect-scheduled', (entry) => scheduled.push(entry));
    relay.refuseWith = { status: 503, code: 'unavailable' };
    connection.start();
    await relay.until(() => scheduled.length >= 4, 'four failed attempts');
    relay.refuseWith = undefined;
    await relay.until(() => connection.state === 'open', 'open');
    // base 10, cap 50, random just below 1: ceilings 10, 20, 40, 50, …
    expect(scheduled.slice(0, 4)).toEqual([
      { attempt: 0, delayMs: 9 },
      { attempt: 1, delayMs: 19 },
      { attempt: 2, delayMs: 39 },
      { attempt: 3, delayMs: 49 },
    ]);
    const afterStable = scheduled.length;
    relay.refuseWith = { status: 503, code: 'unavailable' };
    relay.sockets[0]!.terminate();
    await relay.until(() => scheduled.length > afterStable + 1, 'two retries after the drop');
    // A healthy connection dropped: the first retry goes at once, backoff starts again from the base for the repeated failure.
    expect(scheduled.slice(afterStable, afterStable + 2)).toEqual([
      { attempt: 0, delayMs: 0 },
      { attempt: 0, delayMs: 9 },
    ]);
  });

  it('fails over to the next relay at once when the current one refuses, and backs off only after every relay failed', async () => {
    const second = await TestRelay.start();
    cleanups.push(() => second.close());
    const { relay: first, connection } = await setup({ random: () => 0.999 }, (relay) => [{ url: relay.base }, { url: second.base }]);
    const scheduled: Array<{ attempt: number; delayMs: number }> = [];
    connection.on('reconnect-scheduled', (entry) => scheduled.push(entry));
    first.refuseWith = { status: 503, code: 'unavailable' };
    second.refuseWith = { status: 503, code: 'unavailable' };
    connection.start();
    await first.until(() => scheduled.length >= 4, 'two rounds');
    // base 10, random just below 1: the failover inside a round waits for nothing, the round's end backs off 9, then 19 ms.
    expect(scheduled.slice(0, 4)).toEqual([
      { attempt: 0, delayMs: 0 },
      { attempt: 0, delayMs: 9 },
      { attempt: 1, delayMs: 0 },
      { attempt: 1, delayMs: 19 },
    ]);
    second.refuseWith = undefined;
    await second.until(() => connection.state === 'open', 'open on the second relay');
    expect(connection.endpoint).toEqual({ url: second.base });
    expect(first.received).toHaveLength(0);
  });

  it('after a healthy connection drops, reconnects at once and tries the other relays first', async () => {
    const preferred = await TestRelay.start();
    cleanups.push(() => preferred.close());
    // The second relay of the list ends up holding the agent (the first refused); after the drop the round starts after it.
    const { relay: second, connection } = await setup({ stableAfterMs: 0, random: () => 0.999 }, (relay) => [{ url: preferred.base }, { url: relay.base }]);
    const scheduled: Array<{ attempt: number; delayMs: number }> = [];
    connection.on('reconnect-scheduled', (entry) => scheduled.push(entry));
    preferred.refuseWith = { status: 503, code: 'unavailable' };
    connection.start();
    await second.until(() => types(second.received[0]).includes('inventory'), 'inventory on the second relay');
    preferred.refuseWith = undefined;
    second.sockets[0]!.terminate();
    await preferred.until(() => types(preferred.received[0]).includes('inventory'), 'inventory on the preferred relay');
    expect(scheduled).toEqual([
      { attempt: 0, delayMs: 0 },
      { attempt: 0, delayMs: 0 },
    ]);
    expect(second.received).toHaveLength(1);
  });

  it('pins each address of a name that resolves to several, and fails over between them', async () => {
    const { relay, connection } = await setup({}, (testRelay) => {
      const port = new URL(testRelay.base).port;
      // Nothing listens on 127.0.0.2 (the relay is bound to 127.0.0.1): the first address refuses, the second answers.
      return resolveRelayEndpoints([`http://relay.invalid:${port}`], async () => [
        { address: '127.0.0.2', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ]);
    });
    connection.start();
    await relay.until(() => connection.state === 'open', 'open');
    expect(connection.endpoint).toMatchObject({ address: '127.0.0.1' });
    expect(relay.hosts[0]).toBe(`relay.invalid:${new URL(relay.base).port}`);
  });

  it('closes on a malformed relay frame with 4001 and reconnects', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'inventory');
    const closed = once(relay.sockets[0]!, 'close');
    relay.sockets[0]!.send('{"v":1,"type":"request","id":"x"}');
    const [code] = (await closed) as [number];
    expect(code).toBe(ControlCloseCode.MALFORMED_MESSAGE);
    await relay.until(() => types(relay.received[1]).includes('inventory'), 'inventory after reconnect');
  });

  it('drops a connection whose relay sends a frame above the 1 MiB cap, and reconnects', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'inventory');
    const closed = once(relay.sockets[0]!, 'close');
    relay.sockets[0]!.send('x'.repeat(1024 * 1024 + 1));
    const [code] = (await closed) as [number];
    expect(code).toBe(1009);
    await relay.until(() => types(relay.received[1]).includes('inventory'), 'inventory after reconnect');
  });

  it('answers a request on the socket it came from', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'inventory');
    relay.send(relay.sockets[0]!, { v: 1, type: 'request', id: 'r1', op: 'power.get', params: { serverId: 'web-01' }, timeoutMs: 1000 });
    await relay.until(() => types(relay.received[0]).includes('response'), 'response');
    expect(relay.received[0]!.find((message) => message.type === 'response')).toEqual({
      v: 1,
      type: 'response',
      id: 'r1',
      ok: true,
      result: { echo: { serverId: 'web-01' } },
    });
  });

  it('stops for good when the relay closes with AGENT_REVOKED', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'inventory');
    const fatal = once(connection, 'fatal');
    relay.sockets[0]!.close(ControlCloseCode.AGENT_REVOKED, 'revoked by admin');
    const [error] = (await fatal) as [{ code: string }];
    expect(error.code).toBe('AGENT_REVOKED');
    expect(connection.state).toBe('stopped');
  });

  it('stop() closes the socket and never reconnects', async () => {
    const { relay, connection } = await setup();
    connection.start();
    await relay.until(() => connection.state === 'open', 'open');
    const closed = once(relay.sockets[0]!, 'close');
    await connection.stop();
    await closed;
    expect(connection.state).toBe('stopped');
    expect(relay.server.clients.size).toBe(0);
    expect(relay.received).toHaveLength(1);
  });

  it('drops a gateway whose frame limit cannot take the inventory in one frame, and registers on the next one instead of stopping', async () => {
    // An older gateway (no inventory-parts) with the smallest limit a relay allows: ten servers do not fit in 1024 bytes.
    const older = await TestRelay.start();
    cleanups.push(() => older.close());
    older.maxFrameBytes = 1024;
    const { logger: captured, lines } = capturedLogger();
    const servers = Array.from({ length: 10 }, (_, index) => registration(`srv-${index}`));
    const { relay: current, connection } = await setup({ logger: captured, inventory: () => ({ v: 1, type: 'inventory', servers }) }, (relay) => [{ url: older.base }, { url: relay.base }]);
    const fatal: unknown[] = [];
    connection.on('fatal', (error) => fatal.push(error));
    connection.start();
    await current.until(() => types(current.received[0]).includes('inventory'), 'the inventory on the second gateway');
    expect(fatal).toEqual([]);
    expect(connection.state).toBe('open');
    expect(connection.endpoint).toEqual({ url: current.base });
    expect(current.received[0]!.find((message) => message.type === 'inventory')).toEqual({ v: 1, type: 'inventory', servers });
    // Nothing the older gateway could not take was sent to it, and it was closed.
    expect(older.received).toEqual([[]]);
    await older.until(() => older.server.clients.size === 0, 'the older gateway closed');
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, relay: older.base, maxFrameBytes: 1024, servers: 10 }));
  });

  it('drops a gateway whose frame limit is below one server, even one that takes the inventory in parts', async () => {
    const small = await TestRelay.start();
    cleanups.push(() => small.close());
    small.maxFrameBytes = 1024;
    small.features = [ControlFeature.INVENTORY_PARTS];
    const fat = registration('fat-01', { a: 'x'.repeat(255), b: 'x'.repeat(255), c: 'x'.repeat(255), d: 'x'.repeat(255) });
    const { relay: normal, connection } = await setup({ inventory: () => ({ v: 1, type: 'inventory', servers: [fat] }) }, (relay) => [{ url: small.base }, { url: relay.base }]);
    const fatal: unknown[] = [];
    connection.on('fatal', (error) => fatal.push(error));
    connection.start();
    await normal.until(() => types(normal.received[0]).includes('inventory'), 'the inventory on the second gateway');
    expect(fatal).toEqual([]);
    expect(connection.endpoint).toEqual({ url: normal.base });
    expect(small.received).toEqual([[]]);
  });

  it('backs off when every gateway refuses the inventory, and registers once one can take it', async () => {
    const { relay, connection } = await setup({ random: () => 0.999, inventory: () => ({ v: 1, type: 'inventory', servers: Array.from({ length: 10 }, (_, index) => registration(`srv-${index}`)) }) });
    relay.maxFrameBytes = 1024;
    const fatal: unknown[] = [];
    connection.on('fatal', (error) => fatal.push(error));
    const scheduled: Array<{ attempt: number; delayMs: number }> = [];
    connection.on('reconnect-scheduled', (entry) => scheduled.push(entry));
    connection.start();
    await relay.until(() => scheduled.length >= 2, 'two refused rounds');
    expect(scheduled.slice(0, 2)).toEqual([
      { attempt: 0, delayMs: 9 },
      { attempt: 1, delayMs: 19 },
    ]);
    relay.maxFrameBytes = 1 << 20;
    await relay.until(() => connection.state === 'open', 'open');
    expect(fatal).toEqual([]);
  });

  it('drops the gateway, not the agent, when a resent inventory no longer fits its limit', async () => {
    const servers = [registration('srv-0')];
    const { relay, connection } = await setup({ inventory: () => ({ v: 1, type: 'inventory', servers }) });
    relay.maxFrameBytes = 1024;
    const fatal: unknown[] = [];
    connection.on('fatal', (error) => fatal.push(error));
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'inventory');
    // Servers were adopted: the inventory outgrew the gateway's frame.
    for (let index = 1; index < 10; index += 1) servers.push(registration(`srv-${index}`));
    const closed = once(relay.sockets[0]!, 'close');
    expect(connection.resendInventory()).toBe(false);
    await closed;
    expect(fatal).toEqual([]);
    expect(connection.state).not.toBe('stopped');
  });

  it('ignores a heartbeat-ack for a heartbeat never sent: a relay that then goes silent is still found dead', async () => {
    const { relay, connection } = await setup();
    relay.ackHeartbeats = false;
    relay.server.once('connection', (socket) => {
      socket.once('message', () => relay.send(socket, { v: 1, type: 'heartbeat-ack', seq: 2 ** 40 }));
    });
    connection.start();
    await relay.until(() => relay.received.length >= 2, 'a second connection');
    expect(types(relay.received[0]).filter((type) => type === 'heartbeat')).toHaveLength(3);
  });

  it('refuses a welcome with a heartbeat interval above 10 minutes as malformed', async () => {
    const { relay, connection } = await setup();
    // Node's timers take at most 2³¹−1 ms; a larger interval would fire every millisecond.
    relay.heartbeatIntervalMs = 2 ** 31;
    connection.start();
    await relay.until(() => relay.sockets.length >= 1, 'a connection');
    const codes: number[] = [];
    relay.sockets[0]!.on('close', (code) => codes.push(code));
    await relay.until(() => codes.length > 0, 'the agent to close the connection');
    expect(codes).toEqual([ControlCloseCode.MALFORMED_MESSAGE]);
    expect(connection.state).not.toBe('open');
  });

  it('answers requests beyond the in-flight cap at once with RATE_LIMITED, logged once per burst', async () => {
    const { logger: captured, lines } = capturedLogger();
    const pending: Array<(outcome: ResponseOutcome) => void> = [];
    const { relay, connection } = await setup({ logger: captured, maxRequestsInFlight: 2, onRequest: () => new Promise((resolve) => pending.push(resolve)) });
    connection.start();
    await relay.until(() => types(relay.received[0]).includes('inventory'), 'inventory');
    const socket = relay.sockets[0]!;
    const responses = () => relay.received[0]!.filter((message) => message.type === 'response');
    for (const id of ['r1', 'r2', 'r3', 'r4']) relay.send(socket, { v: 1, type: 'request', id, op: 'sel.list', params: { serverId: 'web-01' }, timeoutMs: 30_000 });
    await relay.until(() => responses().length >= 2, 'two refusals');
    expect(pending).toHaveLength(2);
    expect(responses()).toEqual([
      { v: 1, type: 'response', id: 'r3', ok: false, error: { code: 'RATE_LIMITED', message: 'the agent is already running 2 requests from the relay; try again shortly' } },
      { v: 1, type: 'response', id: 'r4', ok: false, error: { code: 'RATE_LIMITED', message: 'the agent is already running 2 requests from the relay; try again shortly' } },
    ]);
    expect(lines.filter((line) => line['msg'] === 'too many requests from the relay in flight; refusing the excess')).toHaveLength(1);
    // A slot freed: the next request runs.
    pending[0]!({ ok: true, result: {} });
    await relay.until(() => responses().length >= 3, 'the first answer');
    relay.send(socket, { v: 1, type: 'request', id: 'r5', op: 'sel.list', params: { serverId: 'web-01' }, timeoutMs: 30_000 });
    await relay.until(() => pending.length >= 3, 'the fifth request running');
    expect(responses().map((response) => [response.id, response.ok])).toEqual([
      ['r3', false],
      ['r4', false],
      ['r1', true],
    ]);
  });
});
