import { waitFor } from '@lightsout/lab/wait';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServerActivity } from '../inventory/activity.js';
import { ServerEvents } from '../inventory/events.js';
import { type Store, openStore } from '../store/open.js';
import { postgresForThisFile } from '../testing/dialects.js';
import { PostgresBus } from './bus.js';
import { ReplicaRegistry } from './replicas.js';
import { shareServerSessions } from './server-sessions.js';

/**
 * Console counts between replicas on a real PostgreSQL (each replica a bus,
 * a registry and its ServerActivity in this process): a leg spliced at one
 * counts at every other and its feed hears of it; a replica that starts
 * later learns the counts already there; a replica that stops heartbeating
 * takes its legs with it.
 */
const postgres = postgresForThisFile();
const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined };
const TIMING = { heartbeatIntervalMs: 100, staleMs: 400 };

interface Replica {
  activity: ServerActivity;
  changed: string[];
  replicas: ReplicaRegistry;
  bus: PostgresBus;
  stop(): Promise<void>;
}

const until = (check: () => boolean, what: string, timeoutMs = 5000) => waitFor(what, check, { timeoutMs, intervalMs: 10 });

describe('console counts shared between replicas on PostgreSQL', () => {
  let store: Store;
  const running: Replica[] = [];

  beforeAll(async () => {
    store = await openStore({ dataDir: '/nonexistent', store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
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
    await bus.start();
    await replicas.start();
    const events = new ServerEvents();
    const changed: string[] = [];
    events.subscribe((change) => changed.push(...change.changed));
    const activity = new ServerActivity(events);
    const stopSharing = shareServerSessions(activity, bus, replicas, () => undefined);
    await bus.ready();
    const started: Replica = {
      activity,
      changed,
      replicas,
      bus,
      async stop() {
        stopSharing();
        await replicas.close().catch(() => undefined);
        await bus.close();
      },
    };
    running.push(started);
    return started;
  }

  it('a leg spliced at one replica counts at the other, whose feed hears of it, and stops counting when it ends', async () => {
    const [gateway, manager] = [await replica(), await replica()];
    gateway.activity.sessionStarted('web-01');
    gateway.activity.sessionStarted('web-01');
    manager.activity.sessionStarted('web-01');
    await until(() => manager.activity.of('web-01').sessions === 3, 'the manager to count both replicas’ legs');
    await until(() => gateway.activity.of('web-01').sessions === 3, 'the gateway to count both replicas’ legs');
    expect(manager.changed).toContain('web-01');
    gateway.activity.sessionEnded('web-01');
    gateway.activity.sessionEnded('web-01');
    await until(() => manager.activity.of('web-01').sessions === 1, 'the manager to stop counting the gateway’s legs');
  });

  it('a replica that starts later learns the legs already live elsewhere', async () => {
    const gateway = await replica();
    gateway.activity.sessionStarted('web-02');
    const late = await replica();
    await until(() => late.activity.of('web-02').sessions === 1, 'the late replica to count the leg');
  });

  it('a replica that stops heartbeating takes its legs with it', async () => {
    const [gateway, manager] = [await replica(), await replica()];
    gateway.activity.sessionStarted('web-03');
    await until(() => manager.activity.of('web-03').sessions === 1, 'the manager to count the leg');
    gateway.replicas.suspend();
    await gateway.bus.close();
    await until(() => manager.activity.of('web-03').sessions === 0, 'the manager to drop the gone replica’s leg', TIMING.staleMs + 3000);
  });

  it('who holds a console at one replica is known at the other: joining it with control there is a takeover', async () => {
    const [gateway, manager] = [await replica(), await replica()];
    gateway.activity.sessionStarted('web-04', 'alice');
    gateway.activity.sessionStarted('web-04');
    await until(() => manager.activity.heldElsewhere('web-04', 'bob'), 'the manager to know alice holds a console on web-04');
    expect(manager.activity.heldElsewhere('web-04', 'alice')).toBe(false);
    expect(manager.activity.of('web-04').sessions).toBe(2);
    gateway.activity.sessionEnded('web-04', 'alice');
    await until(() => !manager.activity.heldElsewhere('web-04', 'bob'), 'the manager to know nobody holds one any more');
    // A web UI stream holds nothing.
    expect(manager.activity.of('web-04').sessions).toBe(1);
  });

  it("who is on a server's consoles at one replica is listed at the other, and nobody once the legs end", async () => {
    const [gateway, manager] = [await replica(), await replica()];
    const alice = { user: 'alice', kind: 'sol', mode: 'control', since: '2026-12-05T10:00:00.000Z' } as const;
    const bob = { user: 'bob', kind: 'vnc', mode: 'view', since: '2026-12-05T10:01:00.000Z' } as const;
    gateway.activity.sessionStarted('web-05', 'alice', alice);
    manager.activity.sessionStarted('web-05', 'bob', bob);
    await until(() => manager.activity.consolesOf('web-05').length === 2, 'the manager to list both legs');
    expect(manager.activity.consolesOf('web-05')).toEqual([alice, bob]);
    await until(() => gateway.activity.consolesOf('web-05').length === 2, 'the gateway to list both legs');
    gateway.activity.sessionEnded('web-05', 'alice', alice);
    await until(() => manager.activity.consolesOf('web-05').length === 1, 'the manager to drop alice');
    expect(manager.activity.consolesOf('web-05')).toEqual([bob]);
    manager.activity.sessionEnded('web-05', 'bob', bob);
    await until(() => gateway.activity.consolesOf('web-05').length === 0, 'the gateway to list nobody');
  });
});
