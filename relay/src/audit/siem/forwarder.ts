import { settledWithin } from '../../settled-within.js';
import type { Store } from '../../store/open.js';
import { readAudit } from '../chain.js';
import type { SinkTransport } from './transport.js';

export interface ForwarderOptions {
  /** The sink's name: the key of its stored cursor. */
  sink: string;
  /** Who holds the lease: this replica. */
  holder: string;
  /** Records per send. */
  batch: number;
  /** How long a lease lasts without renewal; another replica takes over after it. */
  leaseMs: number;
  /** How often to look for records other replicas appended (this replica's own wake it at once). */
  pollMs: number;
  /** A new sink starts at the chain's beginning, or at its end (only what is appended from now on). */
  startAt: 'beginning' | 'end';
  /** Longest wait between retries after a failed send. */
  maxBackoffMs: number;
  /** How long close() lets a send in flight finish before it closes the transport under it (default 2 s). */
  closeGraceMs?: number;
  now?: () => number;
}

export interface ForwarderLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface ForwarderObserver {
  forwarded(sink: string, count: number): void;
  failed(sink: string): void;
  lag(sink: string, records: number): void;
}

interface Sent {
  seq: number;
  at: number;
  epoch: number;
}

/**
 * States of one sink's forwarder:
 *
 *   standby ──lease won──▶ forwarding ──send failed──▶ backing off ──▶ forwarding
 *      ▲                       │
 *      └────lease lost─────────┘
 *
 * At-least-once across restarts and replicas: the sink's cursor (the last
 * delivered seq) is in the store, in `audit_sink_cursors`, beside a lease so
 * that one replica forwards at a time. A record is read, sent, and only then
 * the cursor moves past it — once the transport counts it delivered
 * (transport.ts). A crash, a lost lease or a dropped connection in between
 * sends it again: receivers drop duplicates by `seq`/`hash`.
 */
export class AuditForwarder {
  private state: 'standby' | 'forwarding' | 'backing-off' | 'closed' = 'standby';
  /** The last seq handed to the transport. */
  private position = 0;
  /** The last seq the store's cursor holds. */
  private persisted = 0;
  private pending: Sent[] = [];
  private epoch = 0;
  private backoffMs = 0;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private loop: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly transport: SinkTransport,
    private readonly options: ForwarderOptions,
    private readonly log: ForwarderLog,
    private readonly observer?: ForwarderObserver,
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New records were appended here: look now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.wakeUp?.();
    // A send to a receiver that stopped reading does not end by itself: closing the transport under it fails it.
    if (this.loop !== undefined) await settledWithin(this.loop, this.options.closeGraceMs ?? 2000);
    await this.transport.close();
    await this.loop;
    // Hand the lease over at once: another replica need not wait for it to lapse.
    await this.store
      .updateTable('audit_sink_cursors')
      .set({ holder: null, lease_until: 0 })
      .where('sink', '=', this.options.sink)
      .where('holder', '=', this.options.holder)
      .execute()
      .catch(() => undefined);
  }

  get status(): { state: string; position: number; persisted: number } {
    return { state: this.state, position: this.position, persisted: this.persisted };
  }

  /** Every step awaits the store or the transport, and close() may come meanwhile: nothing leaves 'closed'. */
  private enter(state: 'standby' | 'forwarding' | 'backing-off'): void {
    if (this.state !== 'closed') this.state = state;
  }

  private async run(): Promise<void> {
    while (this.state !== 'closed') {
      try {
        await this.step();
      } catch (error) {
        // The store itself failed (an outage): nothing moved; try again later.
        this.log.warn({ err: error, sink: this.options.sink }, 'audit forwarding paused: the store failed');
        await this.idle(this.options.pollMs);
      }
    }
  }

  private async step(): Promise<void> {
    if (!(await this.holdLease())) {
      if (this.state !== 'standby' && this.state !== 'closed') this.log.info({ sink: this.options.sink }, 'audit sink lease lost: another replica forwards');
      this.enter('standby');
      await this.idle(this.options.leaseMs / 2);
      return;
    }
    if (this.state === 'standby') this.enter('forwarding');
    if (this.transport.epoch !== this.epoch) {
      // The connection that carried the unconfirmed records dropped: send them again.
      this.epoch = this.transport.epoch;
      this.pending = [];
      this.position = this.persisted;
    }
    await this.confirm();
    const records = await readAudit(this.store, { after: this.position, limit: this.options.batch });
    if (records.length === 0) {
      await this.reportLag();
      await this.idle(this.pending.length > 0 ? Math.min(this.options.pollMs, this.untilConfirmable()) : this.options.pollMs);
      return;
    }
    const epochBefore = this.transport.epoch;
    try {
      await this.transport.send(records);
    } catch (error) {
      this.observer?.failed(this.options.sink);
      this.backoffMs = Math.min(this.options.maxBackoffMs, Math.max(250, this.backoffMs * 2));
      this.log.warn({ err: error, sink: this.options.sink, retryInMs: this.backoffMs }, 'audit sink send failed');
      this.enter('backing-off');
      await this.idle(this.backoffMs, { ignoreWake: true });
      if (this.state === 'backing-off') this.enter('forwarding');
      return;
    }
    if (this.backoffMs > 0) this.log.info({ sink: this.options.sink }, 'audit sink delivering again');
    this.backoffMs = 0;
    this.observer?.forwarded(this.options.sink, records.length);
    if (this.transport.epoch !== epochBefore) return; // lost while writing: the next step rewinds
    const last = records.at(-1)!.seq;
    this.position = last;
    this.pending.push({ seq: last, at: this.now(), epoch: this.transport.epoch });
    await this.confirm();
  }

  /** Moves the stored cursor past every batch that now counts as delivered. */
  private async confirm(): Promise<void> {
    const now = this.now();
    let through: number | undefined;
    while (this.pending.length > 0 && this.pending[0]!.epoch === this.transport.epoch && this.pending[0]!.at + this.transport.confirmAfterMs <= now) {
      through = this.pending.shift()!.seq;
    }
    if (through === undefined) return;
    await this.store.updateTable('audit_sink_cursors').set({ seq: through }).where('sink', '=', this.options.sink).where('holder', '=', this.options.holder).execute();
    this.persisted = through;
  }

  private untilConfirmable(): number {
    const first = this.pending[0];
    return first === undefined ? this.options.pollMs : Math.max(10, first.at + this.transport.confirmAfterMs - this.now());
  }

  /** Takes or renews the lease; true while this replica holds it. Taking it starts from the stored cursor. */
  private async holdLease(): Promise<boolean> {
    const now = this.now();
    const { sink, holder, leaseMs } = this.options;
    const start = this.options.startAt === 'end' ? await this.chainEnd() : 0;
    await this.store.insertInto('audit_sink_cursors').values({ sink, seq: start, holder: null, lease_until: 0 }).onConflict((conflict) => conflict.column('sink').doNothing()).execute();
    const held = this.state === 'forwarding' || this.state === 'backing-off';
    const result = await this.store
      .updateTable('audit_sink_cursors')
      .set({ holder, lease_until: now + leaseMs })
      .where('sink', '=', sink)
      .where((where) => where.or([where('holder', '=', holder), where('holder', 'is', null), where('lease_until', '<', now)]))
      .executeTakeFirst();
    const won = Number(result.numUpdatedRows) === 1;
    if (won && !held) {
      const row = await this.store.selectFrom('audit_sink_cursors').select('seq').where('sink', '=', sink).executeTakeFirstOrThrow();
      this.persisted = Number(row.seq);
      this.position = this.persisted;
      this.pending = [];
      this.epoch = this.transport.epoch;
      this.log.info({ sink, from: this.persisted }, 'audit sink forwarding from its stored cursor');
    }
    return won;
  }

  private async chainEnd(): Promise<number> {
    const row = await this.store.selectFrom('audit').select((select) => select.fn.max('seq').as('last')).executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  private async reportLag(): Promise<void> {
    if (this.observer === undefined) return;
    this.observer.lag(this.options.sink, Math.max(0, (await this.chainEnd()) - this.persisted));
  }

  private idle(ms: number, options: { ignoreWake?: boolean } = {}): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    if (this.woken && options.ignoreWake !== true) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === wakeUp) this.wakeUp = undefined;
        resolve();
      };
      const wakeUp = () => {
        // Backing off, only close() cuts the wait short; new records wait for the retry.
        if (options.ignoreWake === true && this.state !== 'closed') return;
        this.woken = false;
        done();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = wakeUp;
    });
  }
}
