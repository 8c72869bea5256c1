import { type ControlOperation, LightsoutError } from '@lightsout/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '../testing/dialects.js';
import { type Store, openStore } from '../store/open.js';
import { PostgresBus } from './bus.js';
import { ReplicaRegistry } from './replicas.js';
import { AgentRouter, type LocalAgents } from './router.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * The router between replicas on a real PostgreSQL, each replica in this
 * process with a scripted hub (the agent side is tested with real processes
 * in bench/test/gateway-routing.test.ts). A request made at a replica that
 * does not hold the agent gets the holder's answer, or its error, or a typed
 * error well within its timeout when nobody holds the agent or the holder
 * stops heartbeating.
 */
const postgres = postgresForThisFile();
const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined };
const TIMING = { heartbeatIntervalMs: 100, staleMs: 400 };

/** A hub whose agents answer with `answer` (or never, when it returns undefined). */
class ScriptedHub implements LocalAgents {
  readonly online = new Set<string>();
  private readonly listeners = new Set<(agentId: string, online: boolean) => void>();
  answer: (agentId: string, op: ControlOperation, params: unknown) => Promise<unknown> | undefined = (agentId, op) => Promise.resolve({ agentId, op });
  revoked: string[] = [];

  isOnline(agentId: string): boolean {
    return this.online.has(agentId);
  }

  request(agentId: string, op: ControlOperation, params: unknown): Promise<never> {
    if (!this.online.has(agentId)) return Promise.reject(new LightsoutError('AGENT_OFFLINE', 'not here'));
    return (this.answer(agentId, op, params) ?? new Promise(() => undefined)) as Promise<never>;
  }

  watchPresence(listener: (agentId: string, online: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  revoke(agentId: string): void {
    this.revoked.push(agentId);
  }

  connect(agentId: string, online = true): void {
    if (online) this.online.add(agentId);
    else this.online.delete(agentId);
    for (const listener of this.listeners) listener(agentId, online);
  }
}

interface Replica {
  hub: ScriptedHub;
  router: AgentRouter;
  replicas: ReplicaRegistry;
  bus: PostgresBus;
  stop(): Promise<void>;
}

const until = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000) => waitFor(what, check, { timeoutMs, intervalMs: 10 });

async function failure(promise: Promise<unknown>): Promise<{ error: LightsoutError; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    if (error instanceof LightsoutError) return { error, ms: Date.now() - started };
    throw error;
  }
  throw new Error('expected a LightsoutError');
}

describe('AgentRouter between replicas on PostgreSQL', () => {
  let store: Store;
  const running: Replica[] = [];

  beforeAll(async () => {
    store = await openStore({ dataDir: '/nonexistent', store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
    const now = Date.now();
    for (const id of ['agent-1', 'agent-2', 'agent-3']) {
      await store.insertInto('agents').values({ id, name: id, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: now }).execute();
    }
  });
  afterEach(async () => {
    for (const replica of running.splice(0)) await replica.stop();
  });
  afterAll(async () => {
    await store?.destroy();
  });

  async function replica(): Promise<Replica> {
    const bus = new PostgresBus(store, postgres().url, quiet);
    const replicas = new ReplicaRegistry(store, { role: 'gateway', region: 'eu', publicUrl: 'http://127.0.0.1:1' }, quiet, TIMING);
    const hub = new ScriptedHub();
    await bus.start();
    await replicas.start();
    const router = new AgentRouter(hub, 10_000, quiet, { bus, replicas, store });
    await router.start();
    const started: Replica = {
      hub,
      router,
      replicas,
      bus,
      async stop() {
        router.close();
        await replicas.close().catch(() => undefined);
        await bus.close();
      },
    };
    running.push(started);
    return started;
  }

  const heldBy = async (agentId: string) => (await store.selectFrom('agents').select('gateway_id').where('id', '=', agentId).executeTakeFirstOrThrow()).gateway_id;

  it('a request at a replica that does not hold the agent gets the holder’s answer, large answers too', async () => {
    const [a, b] = [await replica(), await replica()];
    b.hub.answer = (agentId, op) => Promise.resolve(op === 'sel.list' ? { entries: Array.from({ length: 400 }, (_, index) => ({ id: index, message: `entry ${index} of ${agentId}` })) } : { power: 'on' });
    b.hub.connect('agent-1');
    await until(async () => (await heldBy('agent-1')) === b.replicas.id, 'the store to name the holder');
    await until(() => a.router.isOnline('agent-1'), 'A to see the agent online');
    expect(await a.router.request('agent-1', 'power.get', { serverId: 'web-01' })).toEqual({ power: 'on' });
    const sel = (await a.router.request('agent-1', 'sel.list', { serverId: 'web-01' })) as unknown as { entries: unknown[] };
    expect(JSON.stringify(sel).length).toBeGreaterThan(8000);
    expect(sel.entries).toHaveLength(400);
  });

  it('the agent’s own error comes back with its code', async () => {
    const [a, b] = [await replica(), await replica()];
    b.hub.answer = () => Promise.reject(new LightsoutError('BMC_TIMEOUT', 'the BMC did not answer', { details: { serverId: 'web-01' } }));
    b.hub.connect('agent-1');
    await until(() => a.router.isOnline('agent-1'), 'A to see the agent online');
    const { error } = await failure(a.router.request('agent-1', 'power.get', { serverId: 'web-01' }));
    expect(error.code).toBe('BMC_TIMEOUT');
    expect(error.details).toEqual({ serverId: 'web-01' });
  });

  it('an agent offline everywhere is AGENT_OFFLINE at once; presence follows the agent', async () => {
    const [a, b] = [await replica(), await replica()];
    const seen: Array<[string, boolean]> = [];
    a.router.watchPresence((agentId, online) => seen.push([agentId, online]));
    const { error, ms } = await failure(a.router.request('agent-2', 'power.get', { serverId: 'web-02' }, 10_000));
    expect(error.code).toBe('AGENT_OFFLINE');
    expect(ms).toBeLessThan(1000);
    b.hub.connect('agent-2');
    await until(() => a.router.isOnline('agent-2'), 'A to see the agent online');
    b.hub.connect('agent-2', false);
    await until(() => !a.router.isOnline('agent-2'), 'A to see the agent offline');
    expect(await heldBy('agent-2')).toBeNull();
    expect(seen).toEqual([
      ['agent-2', true],
      ['agent-2', false],
    ]);
    expect((await failure(a.router.request('agent-2', 'power.get', { serverId: 'web-02' }))).error.code).toBe('AGENT_OFFLINE');
  });

  it('a holder that stops heartbeating with a request out: the request ends AGENT_OFFLINE long before its timeout, and the agent is offline', async () => {
    const [a, b] = [await replica(), await replica()];
    b.hub.answer = () => undefined;
    b.hub.connect('agent-3');
    await until(() => a.router.isOnline('agent-3'), 'A to see the agent online');
    const pending = failure(a.router.request('agent-3', 'power.get', { serverId: 'web-03' }, 10_000));
    b.replicas.suspend();
    await b.bus.close();
    const { error, ms } = await pending;
    expect(error.code).toBe('AGENT_OFFLINE');
    expect(ms).toBeLessThan(TIMING.staleMs + 2000);
    expect(a.router.isOnline('agent-3')).toBe(false);
    // And a new request does not wait for anyone.
    expect((await failure(a.router.request('agent-3', 'power.get', { serverId: 'web-03' }, 10_000))).ms).toBeLessThan(1000);
  });

  it('a replica whose heartbeat row lags but that just announced an agent is alive for that agent, until staleMs after it was heard', async () => {
    const [a, b] = [await replica(), await replica()];
    // B's heartbeat row stops (a loaded replica's writes can lag seconds); its bus still carries messages.
    b.replicas.suspend();
    await until(() => !a.replicas.isAlive(b.replicas.id), 'A to judge B stale by its row');
    b.hub.connect('agent-2');
    // B's announcement is proof of life: the agent is online at A (the route names B), not AGENT_OFFLINE.
    await until(() => a.router.isOnline('agent-2'), 'A to see the agent online at B');
    expect(await a.router.gatewayUrlOf('agent-2', 'http://a.test')).toBe('http://127.0.0.1:1');
    // Nothing more from B: after staleMs it is gone again.
    await until(() => !a.router.isOnline('agent-2'), 'B to be stale again', TIMING.staleMs + 3000);
  });

  it('a revocation made at one replica closes the agent’s connection at the replica holding it', async () => {
    const [a, b] = [await replica(), await replica()];
    b.hub.connect('agent-1');
    a.router.revoke('agent-1');
    await until(() => b.hub.revoked.includes('agent-1'), 'the holder to revoke the agent');
  });
});
