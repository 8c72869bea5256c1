import type { MediaStatusResult, RequestMessage, ServerRegistration, StreamOpenResult } from '@lightsout/shared';
import WebSocket from 'ws';
import { type TestAgentIdentity, TestControlClient, agentConnectToken, enrollTestAgent, isRefusal } from './control-client.js';
import { createJoinTokenAs } from './login.js';

/** One dial-back leg the scripted agent opened for a `stream.open`. */
export interface ScriptedLeg {
  sessionId: string;
  tenant: string;
  socket: WebSocket;
  /** What the client typed on this leg (binary frames), as text. */
  typed: string;
  /** Resolves with the close code the relay sent on this leg. */
  closed: Promise<number>;
}

/**
 * Test-only: an enrolled agent that answers the relay like the real one
 * does, for tests that need consoles and virtual media without BMCs:
 * `stream.open` dials back (refusing a tenant other than the one it was
 * last told, like agent/src/streams), `server.assign` records the tenant,
 * `media.status` / `media.eject` report and drop a scripted mount,
 * `power.get` says on. Every request is kept in `requests`. It heartbeats
 * at the interval the relay's welcome names, as the real agent does:
 * without them the relay drops it
 * after `missedHeartbeats` intervals (15 s by default), which a test run
 * slowed by a loaded machine outlasts.
 */
export class ScriptedAgent {
  readonly requests: RequestMessage[] = [];
  readonly legs: ScriptedLeg[] = [];
  readonly tenants = new Map<string, string>();
  /** Per server: the mount `media.status` reports until `media.eject`. */
  readonly mounts = new Map<string, NonNullable<MediaStatusResult['mount']>>();
  /** While set, `stream.open` waits for it before dialing back (a slow agent, for races at attach). */
  dialBackGate: Promise<void> | undefined;
  /** What `stream.open` answers once it has dialed back (`{ tookOver: true }`: as if the BMC's SOL had been taken over). */
  openResult: StreamOpenResult = {};
  private readonly waiters = new Set<() => void>();
  private stopped = false;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    private readonly relayUrl: string,
    readonly identity: TestAgentIdentity,
    private readonly control: TestControlClient,
  ) {}

  /** Enroll with a join token from `adminToken`, connect, register `servers`. */
  static async start(relayUrl: string, adminToken: string, servers: ServerRegistration[]): Promise<ScriptedAgent> {
    const identity = await enrollTestAgent(relayUrl, (await createJoinTokenAs(relayUrl, adminToken, { region: 'eu', datacenter: 'fra1' })).token);
    return ScriptedAgent.connect(relayUrl, identity, servers);
  }

  static async connect(relayUrl: string, identity: TestAgentIdentity, servers: ServerRegistration[]): Promise<ScriptedAgent> {
    const connected = await TestControlClient.connect(relayUrl, await agentConnectToken(identity));
    if (isRefusal(connected)) throw new Error(`agent refused: ${JSON.stringify(connected.body)}`);
    const welcome = await connected.next('welcome');
    connected.send({ v: 1, type: 'hello', agentVersion: 'scripted', capabilities: ['ipmi', 'redfish'] });
    connected.send({ v: 1, type: 'inventory', servers });
    const agent = new ScriptedAgent(relayUrl, identity, connected);
    let seq = 0;
    agent.heartbeat = setInterval(() => connected.send({ v: 1, type: 'heartbeat', seq: ++seq }), welcome.heartbeatIntervalMs);
    agent.heartbeat.unref();
    for (const server of servers) agent.tenants.set(server.id, server.tenant);
    const ack = await connected.next('inventory-ack');
    for (const { serverId, tenant } of ack.assigned ?? []) agent.tenants.set(serverId, tenant);
    void agent.serve();
    return agent;
  }

  /** Resolves when `probe` holds, re-checked on every request and leg event (bounded). */
  async until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`scripted agent: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, remaining);
        this.waiters.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    for (const leg of this.legs) leg.socket.terminate();
    await this.control.close();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private async serve(): Promise<void> {
    while (!this.stopped) {
      let request: RequestMessage;
      try {
        request = await this.control.next('request', 600_000);
      } catch {
        return; // control connection closed
      }
      this.requests.push(request);
      this.wake();
      void this.answer(request).then(
        (result) => this.control.send({ v: 1, type: 'response', id: request.id, ok: true, result }),
        (error: unknown) => this.control.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: (error as { code?: string }).code ?? 'INTERNAL', message: String((error as Error).message) } }),
      );
    }
  }

  private async answer(request: RequestMessage): Promise<unknown> {
    const params = request.params as Record<string, string>;
    switch (request.op) {
      case 'server.assign':
        this.tenants.set(params['serverId']!, params['tenant']!);
        return { sessionsEnded: 0 };
      case 'stream.open':
        if (this.tenants.get(params['serverId']!) !== params['tenant']) throw Object.assign(new Error(`server ${params['serverId']} is not in tenant ${params['tenant']}`), { code: 'FORBIDDEN' });
        await this.dialBackGate;
        await this.dialBack(params['sessionId']!, params['tenant']!, params['dialPath']!);
        return this.openResult;
      case 'media.status': {
        const mount = this.mounts.get(params['serverId']!);
        return { mount: mount ?? null, job: null, transfer: null };
      }
      case 'media.eject':
        this.mounts.delete(params['serverId']!);
        return {};
      case 'power.get':
        return { power: 'on' };
      default:
        throw Object.assign(new Error(`scripted agent does not do ${request.op}`), { code: 'BMC_UNSUPPORTED' });
    }
  }

  private async dialBack(sessionId: string, tenant: string, dialPath: string): Promise<void> {
    const socket = new WebSocket(`${this.relayUrl.replace(/^http/, 'ws')}${dialPath}`, { headers: { authorization: `Bearer ${await agentConnectToken(this.identity)}` } });
    socket.on('error', () => undefined);
    const leg: ScriptedLeg = { sessionId, tenant, socket, typed: '', closed: new Promise((resolve) => socket.once('close', (code) => resolve(code))) };
    socket.on('message', (data, binary) => {
      if (binary) leg.typed += data.toString();
      this.wake();
    });
    void leg.closed.then(() => this.wake());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_request, response) => reject(new Error(`agent leg refused: ${response.statusCode}`)));
    });
    this.legs.push(leg);
    // The real agent starts every leg with a resume offer (agent/src/streams/session.ts).
    socket.send(JSON.stringify({ type: 'resume', offset: 0 }));
  }
}
