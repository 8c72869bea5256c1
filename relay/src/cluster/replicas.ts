import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { RelayRole } from '../config/schema.js';
import type { Store } from '../store/open.js';

/** A replica writes its heartbeat this often … */
export const HEARTBEAT_INTERVAL_MS = 2000;
/** … and counts as gone when its last one is older than this (three missed). */
export const REPLICA_STALE_MS = 6000;
/** Rows of replicas gone this long are deleted by whoever notices (a kill -9 leaves its row behind). */
const FORGET_AFTER_MS = 10 * 60_000;

export interface ReplicaInfo {
  id: string;
  role: RelayRole;
  region: string | null;
  publicUrl: string;
  /** The replica's last heartbeat, on the database's clock. */
  heartbeatAt: number;
}

interface Logger {
  warn(object: object, message: string): void;
}

export interface ReplicaTiming {
  heartbeatIntervalMs: number;
  staleMs: number;
}

/** The database's clock in epoch ms: every replica compares heartbeats on one clock, whatever its own says. */
const databaseNow = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * The replicas of the deployment, as the `replicas` table says. Each
 * replica inserts itself at start (a random id: a restarted replica is a new
 * one), heartbeats, and deletes itself (and its claim on agents) on a clean
 * shutdown. A replica is alive while its heartbeat is fresh on the
 * database's clock; between reads, ages are projected from the offset
 * between that clock and ours measured at the last read.
 *
 *   (absent) ─start─▶ alive ─heartbeat…─▶ alive ─close─▶ (deleted)
 *                       └─ no heartbeat for staleMs ─▶ gone (seen as such by the others)
 */
export class ReplicaRegistry {
  readonly id = randomUUID();
  private known = new Map<string, ReplicaInfo>();
  /** database clock − our clock, at the last read. */
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly goneListeners = new Set<(replicaId: string) => void>();
  /** Replicas already reported gone (each is reported once). */
  private readonly reportedGone = new Set<string>();
  private ticking: Promise<void> = Promise.resolve();
  /** When a message from each replica last arrived, on our clock (heardFrom). */
  private readonly heard = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly self: { role: RelayRole; region: string | null; publicUrl: string },
    private readonly log: Logger,
    private readonly timing: ReplicaTiming = { heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, staleMs: REPLICA_STALE_MS },
  ) {}

  async start(): Promise<void> {
    await this.insertSelf();
    await this.refresh();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick());
    }, this.timing.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** `listener(replicaId)` once when another replica stops heartbeating (or its row disappears); returns the unsubscribe. */
  onGone(listener: (replicaId: string) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  isAlive(replicaId: string): boolean {
    if (replicaId === this.id) return this.timer !== undefined;
    const replica = this.known.get(replicaId);
    if (replica !== undefined && Date.now() + this.offsetMs - replica.heartbeatAt <= this.timing.staleMs) return true;
    const heard = this.heard.get(replicaId);
    return heard !== undefined && Date.now() - heard <= this.timing.staleMs;
  }

  /**
   * A message from the replica just arrived over the bus: it was alive to
   * send it. Counts like a heartbeat (on our clock) for staleMs. Under load
   * a heartbeat row can lag its interval by seconds (the writer's pool and
   * event loop, our reads), and a gateway that had just taken over an agent
   * was judged gone while its announcement of the agent was in hand: the
   * route then answered AGENT_OFFLINE to every console following the agent.
   */
  heardFrom(replicaId: string): void {
    if (replicaId !== this.id) this.heard.set(replicaId, Date.now());
  }

  get(replicaId: string): ReplicaInfo | undefined {
    return this.known.get(replicaId);
  }

  /** The public URL of every replica in the registry, this one's included (alive or not: a gateway's URL outlives a stall). */
  publicUrls(): string[] {
    return [...new Set([this.self.publicUrl, ...[...this.known.values()].map((replica) => replica.publicUrl)])];
  }

  /** Every replica alive as of the last read. */
  alive(): ReplicaInfo[] {
    return [...this.known.values()].filter((replica) => this.isAlive(replica.id));
  }

  /** Stop heartbeating without leaving: what a killed or frozen replica looks like to the others (tests). */
  suspend(): void {
    clearInterval(this.timer);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.store.deleteFrom('replicas').where('id', '=', this.id).execute();
    // Our agents are nowhere now; they will say where they are when they reconnect.
    await this.store.updateTable('agents').set({ gateway_id: null }).where('gateway_id', '=', this.id).execute();
  }

  private async insertSelf(): Promise<void> {
    await this.store
      .insertInto('replicas')
      .values({ id: this.id, role: this.self.role, region: this.self.region, public_url: this.self.publicUrl, started_at: databaseNow, heartbeat_at: databaseNow })
      .onConflict((conflict) => conflict.column('id').doUpdateSet({ heartbeat_at: databaseNow }))
      .execute();
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.store.updateTable('replicas').set({ heartbeat_at: databaseNow }).where('id', '=', this.id).executeTakeFirst();
      // Deleted by a peer after a long stall (we looked gone): come back as the same replica.
      if (Number(result.numUpdatedRows) === 0) await this.insertSelf();
      await this.refresh();
    } catch (error) {
      this.log.warn({ err: error }, 'replica heartbeat failed');
    }
  }

  /** Read every replica's heartbeat and the clock offset; report the ones that went stale. */
  async refresh(): Promise<void> {
    const before = Date.now();
    const now = await sql<{ now: number }>`select ${databaseNow} as now`.execute(this.store);
    this.offsetMs = Number(now.rows[0]!.now) - Math.round((before + Date.now()) / 2);
    const rows = await this.store.selectFrom('replicas').selectAll().execute();
    const previous = this.known;
    this.known = new Map(rows.map((row) => [row.id, { id: row.id, role: row.role as RelayRole, region: row.region, publicUrl: row.public_url, heartbeatAt: Number(row.heartbeat_at) }]));
    for (const replicaId of [...this.reportedGone]) if (this.isAlive(replicaId)) this.reportedGone.delete(replicaId);
    const forgotten = rows.filter((row) => Date.now() + this.offsetMs - Number(row.heartbeat_at) > FORGET_AFTER_MS).map((row) => row.id);
    if (forgotten.length > 0) await this.store.deleteFrom('replicas').where('id', 'in', forgotten).execute();
    for (const replicaId of [...this.heard.keys()]) if (!this.known.has(replicaId)) this.heard.delete(replicaId);
    this.reportGone();
    // A replica that deregistered (clean shutdown) is gone too.
    for (const replicaId of previous.keys()) {
      if (this.known.has(replicaId) || replicaId === this.id || this.reportedGone.has(replicaId)) continue;
      for (const listener of [...this.goneListeners]) listener(replicaId);
    }
  }

  /** Called on every read and by users that need a prompt verdict (the router's pending requests). */
  reportGone(): void {
    const gone: string[] = [];
    for (const replica of this.known.values()) if (replica.id !== this.id && !this.isAlive(replica.id) && !this.reportedGone.has(replica.id)) gone.push(replica.id);
    for (const replicaId of gone) {
      this.reportedGone.add(replicaId);
      for (const listener of [...this.goneListeners]) listener(replicaId);
    }
  }
}
