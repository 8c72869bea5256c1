import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '../testing/dialects.js';
import { type Store, openStore } from '../store/open.js';
import { BUS_APPLICATION_NAME, type ClusterBus, LocalBus, NOTIFY_PAYLOAD_LIMIT_BYTES, PostgresBus } from './bus.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * The cluster bus on a real PostgreSQL: two buses are two replicas. A message
 * reaches every subscriber of its channel and no other; one larger than a
 * NOTIFY payload may be (8000 bytes) arrives whole through the payload
 * table; after the LISTEN connection is killed, the bus LISTENs again by
 * itself and says so, and messages flow again.
 */
const postgres = postgresForThisFile();
const quiet = { warn: () => undefined, info: () => undefined };

/** Resolves with the first message `bus` hears on `channel` that `match` accepts; rejects after `timeoutMs`. */
function next(bus: ClusterBus, channel: string, timeoutMs = 5000, match: (message: unknown) => boolean = () => true): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`nothing on ${channel} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bus.subscribe(channel, (message) => {
      if (!match(message)) return;
      clearTimeout(timer);
      stop();
      resolve(message);
    });
  });
}

describe('PostgresBus', () => {
  let store: Store;
  const buses: PostgresBus[] = [];

  beforeAll(async () => {
    store = await openStore({ dataDir: '/nonexistent', store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
  });
  afterAll(async () => {
    await store?.destroy();
  });

  async function bus(): Promise<PostgresBus> {
    const started = new PostgresBus(store, postgres().url, quiet);
    buses.push(started);
    await started.start();
    return started;
  }

  it('delivers a message to every subscriber of its channel, on every replica, and not to other channels', async () => {
    const [a, b] = [await bus(), await bus()];
    let elsewhere = 0;
    b.subscribe('other.channel', () => (elsewhere += 1));
    const heardByA = next(a, 'greetings');
    const heardByB = next(b, 'greetings');
    // LISTEN is issued when the subscription is made; wait until it is in place before publishing.
    await waitForListeners(2, 'greetings');
    await a.publish('greetings', { hello: 'world', n: 1 });
    expect(await heardByA).toEqual({ hello: 'world', n: 1 });
    expect(await heardByB).toEqual({ hello: 'world', n: 1 });
    expect(elsewhere).toBe(0);
  });

  it('carries a message larger than a NOTIFY payload (over 8000 bytes) through the payload table, whole', async () => {
    const [a, b] = [await bus(), await bus()];
    const large = { text: 'x'.repeat(20_000), list: Array.from({ length: 500 }, (_, index) => ({ index, name: `sel-entry-${index}` })) };
    expect(Buffer.byteLength(JSON.stringify(large))).toBeGreaterThan(8000);
    // One subscription for both messages (a new one would LISTEN anew, asynchronously).
    const heard: unknown[] = [];
    b.subscribe('large', (message) => heard.push(message));
    await waitForListeners(1, 'large');
    await a.publish('large', large);
    await until(() => heard.length === 1, 'the large message');
    expect(heard[0]).toEqual(large);
    const stored = await store.selectFrom('bus_payloads').select('payload').execute();
    expect(stored.some((row) => row.payload.includes('sel-entry-499'))).toBe(true);
    // A message under the limit does not touch the table.
    await a.publish('large', { text: 'y'.repeat(NOTIFY_PAYLOAD_LIMIT_BYTES - 100) });
    await until(() => heard.length === 2, 'the small message');
    expect(heard[1]).toEqual({ text: 'y'.repeat(NOTIFY_PAYLOAD_LIMIT_BYTES - 100) });
    expect(await store.selectFrom('bus_payloads').select('id').execute()).toHaveLength(stored.length);
  });

  it('LISTENs again by itself after its connection is killed, and tells onReconnect', async () => {
    const [a, b] = [await bus(), await bus()];
    const reconnected = new Promise<void>((resolve) => b.onReconnect(resolve));
    // Subscribed throughout: the subscription outlives the connection it was made on.
    const heard: unknown[] = [];
    b.subscribe('after-drop', (message) => heard.push(message));
    const before = next(b, 'after-drop', 5000, (message) => (message as { n: number }).n === 1);
    await waitForListeners(1, 'after-drop');
    await a.publish('after-drop', { n: 1 });
    await before;
    // Kill every bus LISTEN connection: both replicas go deaf, then come back.
    await killListenConnections();
    await withTimeout(reconnected, 10_000, 'the bus to reconnect');
    expect(b.listensTo('after-drop')).toBe(true);
    const after = next(b, 'after-drop', 5000, (message) => (message as { n: number }).n === 2);
    await waitForListeners(1, 'after-drop');
    await a.publish('after-drop', { n: 2 });
    expect(await after).toEqual({ n: 2 });
    expect(heard).toEqual([{ n: 1 }, { n: 2 }]);
  });

  /** Bounded: until `count` of our buses LISTEN on `channel` (the subscription's LISTEN is asynchronous). */
  async function waitForListeners(count: number, channel: string): Promise<void> {
    await until(() => buses.filter((candidate) => candidate.listensTo(channel)).length >= count, `${count} buses to LISTEN on ${channel}`);
  }

  async function killListenConnections(): Promise<void> {
    const client = new pg.Client({ connectionString: postgres().url });
    await client.connect();
    try {
      const result = await client.query('select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = $1', [BUS_APPLICATION_NAME]);
      expect(result.rows.length).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  }
});

const until = (check: () => boolean, what: string, timeoutMs = 5000) => waitFor(what, check, { timeoutMs, intervalMs: 10 });

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('LocalBus', () => {
  it('delivers after the publisher’s turn, a copy, to the channel’s subscribers only', async () => {
    const bus = new LocalBus();
    const heard: unknown[] = [];
    bus.subscribe('a', (message) => heard.push(message));
    bus.subscribe('b', () => heard.push('wrong channel'));
    const message = { n: 1 };
    await bus.publish('a', message);
    message.n = 2;
    expect(heard).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual([{ n: 1 }]);
  });
});
