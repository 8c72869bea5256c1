import type { MediaState, PendingPower, PowerOutcome, ServerMediaBadge } from '@lightsout/shared';
import type { Store } from '../store/open.js';
import { SerialWrites } from '../store/serial-writes.js';
import type { ServerEvents } from './events.js';

/**
 * A server's power action being confirmed, its last outcome, and its mounted
 * virtual media image, kept in the server's row. Whichever replica confirms
 * an action or runs a mount, every replica's REST answers and event feeds
 * read them from there (the change is announced on ServerEvents, which the
 * other replicas hear on the cluster bus and answer by re-reading the row).
 * In memory they were the confirming replica's alone: behind a balancer,
 * `lightsout power cycle` asked another manager and heard "not confirmed".
 *
 *   (none) ─begin─▶ pending {action, target, since, until} ─settle(same pending)─▶ (none), last = outcome
 *                      └─ a newer begin replaces it: the older settle then changes nothing
 *                      └─ `until` passed (the confirming replica died): shown as none
 */
export interface StoredPending extends PendingPower {
  /** Epoch ms: the confirmation gives up by then; a pending past it was abandoned (its replica went away). */
  until: number;
}

export class ServerLiveStatus {
  /** The media badge this replica last wrote per server: the media jobs report every step, most of which keep the image. */
  private readonly mediaWritten = new Map<string, string>();
  private readonly mediaWrites = new SerialWrites<string>();

  constructor(
    private readonly store: Store,
    private readonly events: ServerEvents,
  ) {}

  /** Written before the action's answer goes out: a client that asks any replica next sees it pending. */
  async powerPending(serverId: string, pending: PendingPower, untilMs: number): Promise<void> {
    await this.store.updateTable('servers').set({ pending_power: stored(pending, untilMs) }).where('id', '=', serverId).execute();
    this.events.serversChanged([serverId]);
  }

  /** Settles `pending` (as written by powerPending) with its outcome; nothing when a newer action replaced it. */
  async powerSettled(serverId: string, pending: PendingPower, untilMs: number, outcome: PowerOutcome): Promise<void> {
    const result = await this.store
      .updateTable('servers')
      .set({ pending_power: null, last_power: JSON.stringify(outcome) })
      .where('id', '=', serverId)
      .where('pending_power', '=', stored(pending, untilMs))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0) this.events.serversChanged([serverId]);
  }

  /** Writes one server's badges in the order the jobs reported them (a mount's last step must not overtake its eject). */
  setMedia(serverId: string, media: ServerMediaBadge | null): Promise<void> {
    const text = media === null ? null : JSON.stringify({ filename: media.filename, since: media.since, by: media.by });
    const write = async () => {
      if (this.mediaWritten.get(serverId) === (text ?? '')) return;
      await this.store.updateTable('servers').set({ media: text }).where('id', '=', serverId).execute();
      this.mediaWritten.set(serverId, text ?? '');
      this.events.serversChanged([serverId]);
    };
    return this.mediaWrites.run(serverId, write);
  }
}

/** A server's media job as the relay running it last wrote it (the row's `media_job*` columns). */
export interface SharedMediaJob {
  state: MediaState;
  /** Epoch ms of the write. */
  at: number;
  owner: string;
  /** Epoch ms until which `owner` holds the server; 0 once the job settled. */
  until: number;
}

/**
 * The media jobs of every replica, through the server's row: a mount or
 * eject claims the server (refused while another relay's lease runs), its
 * relay writes each state with a renewed lease, and any replica reads it.
 *
 *   free (until ≤ now) ─claim─▶ held by owner {state, until} ─write(owner)─▶ … ─settle (until 0)─▶ free
 *                                    └─ owner died: the lease passes ─▶ free
 *                                    └─ take (a tenant move's release): held by the taker; the old owner's writes change nothing
 */
export class SharedMediaJobs {
  private readonly writes = new SerialWrites<string>();

  constructor(private readonly store: Store) {}

  /** Claims the server for `owner` with its first state; false while another owner's lease runs. */
  async claim(serverId: string, owner: string, state: MediaState, untilMs: number, now = Date.now()): Promise<boolean> {
    await this.written(serverId);
    const result = await this.store
      .updateTable('servers')
      .set({ media_job: jobText(state, now), media_job_owner: owner, media_job_until: untilMs })
      .where('id', '=', serverId)
      .where((row) => row.or([row('media_job_until', '<=', now), row('media_job_owner', '=', owner)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Writes a state of `owner`'s job in the order they come (untilMs 0 settles it); nothing when another owner has
   * taken the server meanwhile. `take` writes whoever held it (a release of the server to another tenant).
   */
  write(serverId: string, owner: string, state: MediaState, untilMs: number, options: { take?: boolean } = {}): Promise<void> {
    const write = async () => {
      let update = this.store.updateTable('servers').set({ media_job: jobText(state, Date.now()), media_job_owner: owner, media_job_until: untilMs }).where('id', '=', serverId);
      if (options.take !== true) update = update.where('media_job_owner', '=', owner);
      await update.execute();
    };
    return this.writes.run(serverId, write);
  }

  async read(serverId: string): Promise<SharedMediaJob | undefined> {
    const row = await this.store.selectFrom('servers').select(['media_job', 'media_job_owner', 'media_job_until']).where('id', '=', serverId).executeTakeFirst();
    if (!row?.media_job || row.media_job_owner === null) return undefined;
    const { state, at } = JSON.parse(row.media_job) as { state: MediaState; at: number };
    return { state, at, owner: row.media_job_owner, until: Number(row.media_job_until) };
  }

  /** This replica's writes for the server so far have reached the store (or failed). */
  written(serverId: string): Promise<void> {
    return this.writes.settled(serverId);
  }
}

function jobText(state: MediaState, at: number): string {
  return JSON.stringify({ state, at });
}

/** One text per pending action (the settle matches on it): the fields in a fixed order. */
function stored(pending: PendingPower, untilMs: number): string {
  return JSON.stringify({ action: pending.action, target: pending.target, since: pending.since, until: untilMs } satisfies StoredPending);
}

/** The view's `pendingPower`, `lastPower` and `media` from the row's columns; a pending past its `until` shows as none. */
export function liveStatusOf(row: { pending_power: string | null; last_power: string | null; media: string | null }, now = Date.now()): { pendingPower: PendingPower | null; lastPower: PowerOutcome | null; media: ServerMediaBadge | null } {
  let pendingPower: PendingPower | null = null;
  if (row.pending_power !== null) {
    const { action, target, since, until } = JSON.parse(row.pending_power) as StoredPending;
    if (until > now) pendingPower = { action, target, since };
  }
  return {
    pendingPower,
    lastPower: row.last_power === null ? null : (JSON.parse(row.last_power) as PowerOutcome),
    media: row.media === null ? null : (JSON.parse(row.media) as ServerMediaBadge),
  };
}
