import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ListenConnection } from '../store/listen-connection.js';
import type { Store } from '../store/open.js';

/**
 * Messages between the replicas of one deployment. Nobody dials anybody but
 * the database: on PostgreSQL a message is a NOTIFY every replica that
 * subscribed to its channel hears; in the single process it never leaves it.
 * Delivery is at most once, in order per publisher and channel for small
 * messages (a large one is fetched first and may overtake): users of the bus
 * carry their own timeouts and resynchronise from the store after
 * `onReconnect` (messages sent while a replica was deaf are lost).
 */
export interface ClusterBus {
  publish(channel: string, message: unknown): Promise<void>;
  /** `handler` gets every message published on `channel` (its own included); returns the unsubscribe. */
  subscribe(channel: string, handler: (message: unknown) => void): () => void;
  /** Resolves once every subscription made so far is heard (subscribing is asynchronous on PostgreSQL). */
  ready(): Promise<void>;
  /** `listener` runs after the bus was deaf for a while and hears again (not at the first start). */
  onReconnect(listener: () => void): () => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

type Handler = (message: unknown) => void;

class Subscriptions {
  private readonly handlers = new Map<string, Set<Handler>>();

  /** True when `channel` got its first handler. */
  add(channel: string, handler: Handler): boolean {
    let set = this.handlers.get(channel);
    const first = set === undefined;
    if (set === undefined) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return first;
  }

  /** True when `channel` lost its last handler. */
  remove(channel: string, handler: Handler): boolean {
    const set = this.handlers.get(channel);
    if (set === undefined || !set.delete(handler)) return false;
    if (set.size > 0) return false;
    this.handlers.delete(channel);
    return true;
  }

  channels(): string[] {
    return [...this.handlers.keys()];
  }

  deliver(channel: string, message: unknown, onError: (error: unknown) => void): void {
    for (const handler of [...(this.handlers.get(channel) ?? [])]) {
      try {
        handler(message);
      } catch (error) {
        onError(error);
      }
    }
  }
}

/** The single process: publish delivers to this process's subscribers, after the caller's turn (as a NOTIFY would). */
export class LocalBus implements ClusterBus {
  private readonly subscriptions = new Subscriptions();

  publish(channel: string, message: unknown): Promise<void> {
    // A copy, as the wire would make: a subscriber cannot change what the publisher holds.
    const copy = structuredClone(message);
    setImmediate(() => this.subscriptions.deliver(channel, copy, () => undefined));
    return Promise.resolve();
  }

  subscribe(channel: string, handler: Handler): () => void {
    this.subscriptions.add(channel, handler);
    return () => void this.subscriptions.remove(channel, handler);
  }

  onReconnect(): () => void {
    return () => undefined;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * NOTIFY payloads must be shorter than 8000 bytes (PostgreSQL docs, "NOTIFY");
 * a message larger than this goes through the bus_payloads table and the
 * notice carries the row id.
 */
export const NOTIFY_PAYLOAD_LIMIT_BYTES = 7000;
/** A large payload stays this long for every subscriber to read it, then the publisher's sweep deletes it. */
const PAYLOAD_KEEP_MS = 60_000;
const SWEEP_INTERVAL_MS = 30_000;
/** The LISTEN connection's application_name (pg_stat_activity shows which connection is the bus's). */
export const BUS_APPLICATION_NAME = 'lightsout-cluster-bus';

/** The PostgreSQL channel (an identifier, at most 63 bytes) for a bus channel name. */
export function notifyChannelOf(channel: string): string {
  const plain = `lightsout_${channel.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  return plain.length <= 63 ? plain : `lightsout_${createHash('sha256').update(channel).digest('hex').slice(0, 40)}`;
}

/** What travels in a NOTIFY: the message itself, or the id of the row that holds it. */
type Envelope = { c: string; m: unknown } | { c: string; ref: string };

interface Logger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/**
 * PostgreSQL LISTEN/NOTIFY. Publishing uses the store's pool (pg_notify, in
 * a transaction with the payload row when the message is large); hearing
 * uses one dedicated connection that LISTENs on every subscribed channel.
 * When that connection drops, it is replaced with backoff
 * (store/listen-connection.ts, as for the revocation channel), LISTENs again
 * on every subscribed channel, and the bus tells `onReconnect` listeners.
 */
export class PostgresBus implements ClusterBus {
  private readonly subscriptions = new Subscriptions();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly connection: ListenConnection;
  /** Bus channels the live connection LISTENs on (LISTEN completed). */
  private readonly listened = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private publishedLarge = false;
  /** LISTEN/UNLISTEN statements, one after the other (never rejects). */
  private changes: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    connectionString: string,
    private readonly log: Logger,
  ) {
    this.connection = new ListenConnection({
      connectionString,
      applicationName: BUS_APPLICATION_NAME,
      what: 'cluster bus',
      log,
      onNotification: (notice) => {
        if (notice.payload !== undefined) void this.received(notice.payload);
      },
      listen: async (client) => {
        const listened = this.listened;
        listened.clear();
        // Until every channel is listened to: a subscribe() during this loop finds the connection not up and leaves its channel to it.
        for (let missing = this.subscriptions.channels(); missing.length > 0; missing = this.subscriptions.channels().filter((channel) => !listened.has(channel))) {
          for (const channel of missing) {
            await client.query(`LISTEN "${notifyChannelOf(channel)}"`);
            listened.add(channel);
          }
        }
      },
      onDropped: () => this.listened.clear(),
      onRestored: () => {
        for (const listener of [...this.reconnectListeners]) listener();
      },
    });
  }

  async publish(channel: string, message: unknown): Promise<void> {
    const text = JSON.stringify({ c: channel, m: message } satisfies Envelope);
    const notifyChannel = notifyChannelOf(channel);
    if (Buffer.byteLength(text) <= NOTIFY_PAYLOAD_LIMIT_BYTES) {
      // pg_notify takes the channel as a value (NOTIFY would need it as an identifier).
      await sql`select pg_notify(${notifyChannel}, ${text})`.execute(this.store);
      return;
    }
    const id = randomUUID();
    // One transaction: the notice is delivered at commit, so the row is there before anyone hears of it.
    await this.store.transaction().execute(async (transaction) => {
      await transaction.insertInto('bus_payloads').values({ id, payload: text, created_at: Date.now() }).execute();
      await sql`select pg_notify(${notifyChannel}, ${JSON.stringify({ c: channel, ref: id } satisfies Envelope)})`.execute(transaction);
    });
    this.publishedLarge = true;
  }

  subscribe(channel: string, handler: Handler): () => void {
    if (this.subscriptions.add(channel, handler)) this.changes = this.changes.then(() => this.listen(channel, true));
    return () => {
      if (this.subscriptions.remove(channel, handler)) this.changes = this.changes.then(() => this.listen(channel, false));
    };
  }

  ready(): Promise<void> {
    return this.changes;
  }

  /** Whether messages on `channel` are heard now (its LISTEN completed on the live connection). */
  listensTo(channel: string): boolean {
    return this.connection.live !== undefined && this.listened.has(channel);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Resolves once the LISTEN connection is up (first connection); later drops reconnect in the background. */
  async start(): Promise<void> {
    await this.connection.start();
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.connection.close();
  }

  /** A LISTEN or UNLISTEN on the live connection; while reconnecting, connect() LISTENs on every channel anyway. */
  private async listen(channel: string, on: boolean): Promise<void> {
    const client = this.connection.live;
    if (client === undefined) return;
    try {
      await client.query(`${on ? 'LISTEN' : 'UNLISTEN'} "${notifyChannelOf(channel)}"`);
      if (on) this.listened.add(channel);
      else this.listened.delete(channel);
    } catch (error) {
      this.log.warn({ err: error, channel, on }, 'cluster bus could not change what it listens to');
    }
  }

  private async received(payload: string): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
      if ('ref' in envelope) {
        const row = await this.store.selectFrom('bus_payloads').select('payload').where('id', '=', envelope.ref).executeTakeFirst();
        if (row === undefined) throw new Error(`bus payload ${envelope.ref} is gone`);
        envelope = JSON.parse(row.payload) as Envelope;
      }
    } catch (error) {
      this.log.warn({ err: error }, 'cluster bus message dropped');
      return;
    }
    if ('m' in envelope) this.subscriptions.deliver(envelope.c, envelope.m, (error) => this.log.warn({ err: error, channel: envelope.c }, 'cluster bus subscriber failed'));
  }

  /** Large payloads this replica published, once every subscriber had time to read them. */
  private async sweep(): Promise<void> {
    if (!this.publishedLarge) return;
    try {
      await this.store.deleteFrom('bus_payloads').where('created_at', '<', Date.now() - PAYLOAD_KEEP_MS).execute();
    } catch (error) {
      this.log.warn({ err: error }, 'cluster bus could not sweep old payloads');
    }
  }
}
