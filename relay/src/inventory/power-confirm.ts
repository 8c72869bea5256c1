import { setTimeout as delay } from 'node:timers/promises';
import type { PendingPower, PowerAction, PowerOutcome, PowerState } from '@lightsout/shared';
import { settledWithin } from '../settled-within.js';
import type { ServerLiveStatus } from './live-status.js';

/**
 * Confirms a power action after the BMC accepted it. BMCs answer before
 * they act (Redfish Reset 204 then the change seconds later; IPMI chassis
 * control likewise), so the state read right after the answer is the old
 * one. Per action:
 *
 *   accepted ─▶ pending {action, target} ─read every 1 s, backing off to 5 s
 *     (or, with `watch`, the agent reads there and answers once)─▶
 *     the BMC reports the target (a cycle from on: off seen, then on) ─▶ confirmed
 *     the deadline passes first                                       ─▶ unconfirmed
 *
 * Every read is recorded as the server's state; the pending action and
 * then the outcome are kept with the server (live-status.ts), so the view
 * (`pendingPower`, `lastPower`) says the same at every replica for the CLI
 * and the tree.
 */
export interface PowerConfirmOptions {
  /** Reads the power state through the agent (power.get). */
  read: (serverId: string) => Promise<PowerState>;
  /** Stores a state read, so the tree and the API show it. */
  record: (serverId: string, power: PowerState) => Promise<void>;
  /** Where the pending action and its outcome are kept (the server's row). */
  status: Pick<ServerLiveStatus, 'powerPending' | 'powerSettled'>;
  onError?: (serverId: string, error: unknown) => void;
  /** Waits between reads; overridable in tests. Default 1 s ×3, 2 s ×2, then 5 s. */
  intervals?: readonly number[];
  deadlines?: Partial<Record<PowerAction, number>>;
}

/**
 * Per action: a caller that meters its own BMC reads (a bulk job, through its
 * per-agent bound) passes its read; one that must see a short off phase of a
 * cycle polls sooner.
 */
export interface ConfirmOverrides {
  read?: (serverId: string) => Promise<PowerState>;
  intervals?: readonly number[];
  /**
   * The state the BMC reported right after accepting the action (power.set's
   * answer). Usually the old one; an `off` after a cycle of a running server
   * is its off phase already seen.
   */
  accepted?: PowerState;
  /**
   * Confirms on the agent (control op `power.await`): reads there at the
   * intervals until the plan's target is seen or its deadline passes, and
   * answers once. Undefined from an agent that cannot: the relay reads itself.
   */
  watch?: (serverId: string, plan: WatchPlan) => Promise<WatchOutcome | undefined>;
}

/** What the relay asks an agent to watch for: the target, an off first or not, until `deadlineMs` from now. */
export interface WatchPlan {
  target: 'on' | 'off';
  needsOff: boolean;
  intervals: readonly number[];
  deadlineMs: number;
}

export interface WatchOutcome {
  power: PowerState;
  confirmed: boolean;
}

/** One `power.await` request watches this long at most (within the agent's own request ceiling); a longer deadline takes several. */
export const WATCH_SLICE_MS = 20_000;

export const TARGET_OF: Record<PowerAction, 'on' | 'off'> = { on: 'on', off: 'off', soft: 'off', cycle: 'on', reset: 'on' };
/** A pending action is shown this long past its deadline at most: its replica settles it by then unless it died. */
const ABANDONED_AFTER_MS = 30_000;
/** A soft off waits for the OS to shut down: give it minutes. */
const DEADLINE_MS: Record<PowerAction, number> = { on: 60_000, off: 60_000, soft: 300_000, cycle: 120_000, reset: 60_000 };
const INTERVALS_MS = [1000, 1000, 1000, 2000, 2000, 5000];

export class PowerConfirmations {
  private readonly running = new Map<string, { cancelled: boolean; settled?: Promise<unknown> }>();
  /** Cuts every wait short when the relay stops. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: PowerConfirmOptions) {}

  /**
   * Starts confirming `action`, accepted at `acceptedAt`, on a server that
   * was `before`. A newer action on the same server replaces an older one.
   * `noted` resolves once the pending action is stored (a failure to store
   * goes to onError: the BMC accepted the action all the same); `settled`
   * with the outcome (callers need not wait).
   */
  start(serverId: string, action: PowerAction, before: PowerState, acceptedAt = Date.now(), overrides: ConfirmOverrides = {}): { pending: PendingPower; noted: Promise<void>; settled: Promise<PowerOutcome> } {
    const previous = this.running.get(serverId);
    if (previous) previous.cancelled = true;
    const token: { cancelled: boolean; settled?: Promise<unknown> } = { cancelled: false };
    this.running.set(serverId, token);
    const pending: PendingPower = { action, target: TARGET_OF[action], since: new Date(acceptedAt).toISOString() };
    const until = acceptedAt + this.deadlineOf(action) + ABANDONED_AFTER_MS;
    const noted = this.options.status.powerPending(serverId, pending, until).catch((error: unknown) => this.options.onError?.(serverId, error));
    const settled = this.confirm(serverId, pending, before, acceptedAt, token, overrides)
      .then(async (outcome) => {
        await noted;
        if (!token.cancelled) await this.options.status.powerSettled(serverId, pending, until, outcome).catch((error: unknown) => this.options.onError?.(serverId, error));
        return outcome;
      })
      .finally(() => {
        if (this.running.get(serverId) === token) this.running.delete(serverId);
      });
    token.settled = settled;
    return { pending, noted, settled };
  }

  /**
   * Stops every confirmation: each ends as not confirmed (it was not seen),
   * and that is stored, so the server does not stay pending at the other
   * replicas until its deadline. Waits for those writes at most `waitMs`
   * (a watch on the agent may be out until its request ends).
   */
  async stop(waitMs = 0): Promise<void> {
    this.stopping.abort();
    const settling = [...this.running.values()].map((token) => token.settled?.catch(() => undefined));
    if (waitMs <= 0 || settling.length === 0) return;
    await settledWithin(Promise.all(settling), waitMs);
  }

  private async confirm(serverId: string, pending: PendingPower, before: PowerState, acceptedAt: number, token: { cancelled: boolean }, overrides: ConfirmOverrides): Promise<PowerOutcome> {
    const intervals = overrides.intervals ?? this.options.intervals ?? INTERVALS_MS;
    const read = overrides.read ?? this.options.read;
    const deadline = acceptedAt + this.deadlineOf(pending.action);
    // a cycle of a running server passes through off: an "on" before that is the state from before the cycle
    let needsOff = pending.action === 'cycle' && before !== 'off' && overrides.accepted !== 'off';
    let power: PowerState = before;
    if (overrides.watch !== undefined) {
      const watched = await this.watch(serverId, pending.target, needsOff, intervals, deadline, token, overrides.watch);
      if (watched !== undefined) return this.outcome(pending, watched.confirmed, acceptedAt);
      // The agent cannot watch (an older one) or the request failed: read from here until the deadline.
    }
    for (let round = 0; ; round += 1) {
      const wait = Math.min(intervals[Math.min(round, intervals.length - 1)]!, Math.max(0, deadline - Date.now()));
      await delay(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (token.cancelled || this.stopping.signal.aborted) return this.outcome(pending, false, acceptedAt);
      try {
        power = await read(serverId);
        await this.options.record(serverId, power);
      } catch (error) {
        this.options.onError?.(serverId, error);
      }
      if (power === 'off') needsOff = false;
      const reached = power === pending.target && !needsOff;
      if (reached || Date.now() >= deadline) return this.outcome(pending, reached, acceptedAt);
    }
  }

  /**
   * Watches on the agent in slices of at most WATCH_SLICE_MS until the target
   * is seen or the deadline passes. Undefined: the caller reads itself (the
   * agent cannot watch, or a request failed). Nothing is recorded here: the
   * agent reports each of its reads as a state change (`state` messages, sent
   * before its answer on the same connection), as it does for power.get.
   */
  private async watch(serverId: string, target: 'on' | 'off', needsOff: boolean, intervals: readonly number[], deadline: number, token: { cancelled: boolean }, watch: NonNullable<ConfirmOverrides['watch']>): Promise<WatchOutcome | undefined> {
    let owesOff = needsOff;
    for (;;) {
      const remaining = deadline - Date.now();
      let watched: WatchOutcome | undefined;
      try {
        watched = await watch(serverId, { target, needsOff: owesOff, intervals, deadlineMs: Math.max(1, Math.min(remaining, WATCH_SLICE_MS)) });
      } catch (error) {
        this.options.onError?.(serverId, error);
        return undefined;
      }
      if (watched === undefined) return undefined;
      if (token.cancelled || this.stopping.signal.aborted) return { power: watched.power, confirmed: false };
      if (watched.confirmed || Date.now() >= deadline) return watched;
      // A slice ended unconfirmed: an off it saw stays seen.
      if (watched.power === 'off') owesOff = false;
    }
  }

  private deadlineOf(action: PowerAction): number {
    return this.options.deadlines?.[action] ?? DEADLINE_MS[action];
  }

  private outcome(pending: PendingPower, confirmed: boolean, acceptedAt: number): PowerOutcome {
    const now = Date.now();
    return { action: pending.action, target: pending.target, confirmed, at: new Date(now).toISOString(), seconds: Math.round((now - acceptedAt) / 100) / 10 };
  }
}
