import type { Store } from '../store/open.js';

/** How often expired rows are swept, at most (by whichever spend comes by). */
const SWEEP_INTERVAL_MS = 60_000;
/**
 * A row outlives its token's expiry by this much before a sweep takes it:
 * each replica sweeps by its own clock, and one running ahead must not
 * delete the row of a token that a replica whose clock is behind still
 * accepts (it would accept it again).
 */
export const SWEEP_CLOCK_MARGIN_MS = 5 * 60_000;

/**
 * Single-use tokens — a stream connect token, an agent's connection JWT —
 * spent in the store rather than in process memory, so a token is accepted
 * once, full stop: not once more after a relay restart (kill -9 included),
 * and not once per relay process sharing the database, whichever of their
 * clocks runs ahead (SWEEP_CLOCK_MARGIN_MS).
 *
 * Spending is one INSERT … ON CONFLICT DO NOTHING on (scope, jti): atomic on
 * SQLite and on PostgreSQL, so two relays racing with the same token cannot
 * both win. A row is kept until its token would fail the expiry check
 * anyway, and a margin for the replicas' clocks; rows past that are swept at
 * most once a minute. If the store is
 * down, spending throws and the token is refused (fail closed).
 */
export class SingleUseLedger {
  private nextSweepAt = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * True the first time (`scope`, `jti`) is spent, false for a replay.
   * `acceptableUntilMs`: when the token fails its expiry check, tolerance included.
   */
  async spend(scope: string, jti: string, acceptableUntilMs: number): Promise<boolean> {
    await this.sweep();
    const result = await this.store
      .insertInto('spent_tokens')
      .values({ scope, jti, expires_at: acceptableUntilMs })
      .onConflict((conflict) => conflict.columns(['scope', 'jti']).doNothing())
      .executeTakeFirst();
    return result.numInsertedOrUpdatedRows === 1n;
  }

  /** Give a token back: the attempt it was spent on failed before it was used (agent offline, dial-back timeout). */
  async refund(scope: string, jti: string): Promise<void> {
    await this.store.deleteFrom('spent_tokens').where('scope', '=', scope).where('jti', '=', jti).execute();
  }

  private async sweep(): Promise<void> {
    const now = this.now();
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    await this.store.deleteFrom('spent_tokens').where('expires_at', '<', now - SWEEP_CLOCK_MARGIN_MS).execute();
  }
}
