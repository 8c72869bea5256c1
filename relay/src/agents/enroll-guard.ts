import { type RateLimit, rateLimited, TokenBuckets } from './fairness.js';

/** At most this many rows per window name a single address; the rest are summed into one. */
const MAX_ADDRESS_ROWS_PER_WINDOW = 100;

/** What to write to the audit table for one failed enrollment, if anything. */
export interface EnrollFailureRow {
  sourceIp: string | null;
  /** Failed attempts this row stands for (itself included). */
  attempts: number;
  /** Distinct addresses, when one row sums several. */
  addresses?: number;
}

/**
 * Unauthenticated enrollment with bogus join tokens. Failures, not
 * enrollments, draw on the address's token bucket (throttle the guesser: a
 * legitimate agent enrolling succeeds and costs nothing); an empty bucket
 * refuses further attempts with RATE_LIMITED before the token is looked up.
 *
 * The audit table gets the first failure of an address in each window as it
 * happens, and at the window's end one row per address with the attempts it
 * made since (at most MAX_ADDRESS_ROWS_PER_WINDOW addresses by name, the rest
 * in one row): bounded growth, and every attempt is still counted.
 */
export class EnrollmentGuard {
  private readonly buckets: TokenBuckets;
  /** Addresses with a row this window, and their attempts not yet written. */
  private readonly window = new Map<string, number>();

  constructor(limit: RateLimit, now: () => number = Date.now) {
    this.buckets = new TokenBuckets(limit, now);
  }

  /** Before looking at the token: throws RATE_LIMITED while the address's failures are exhausted. */
  check(address: string): void {
    const wait = this.buckets.wait(address);
    if (wait > 0) throw rateLimited('too many failed enrollments from this address', wait, 'enroll-failures');
  }

  /** A failed or throttled attempt; returns the row to write now, if any. */
  failed(address: string, throttled: boolean): EnrollFailureRow | undefined {
    if (!throttled) this.buckets.take(address);
    const pending = this.window.get(address);
    if (pending === undefined && this.window.size < MAX_ADDRESS_ROWS_PER_WINDOW) {
      this.window.set(address, 0);
      return { sourceIp: address, attempts: 1 };
    }
    this.window.set(address, (pending ?? 0) + 1);
    return undefined;
  }

  /** The window ends: rows for the attempts not yet written; starts a new window. */
  flush(): EnrollFailureRow[] {
    const rows: EnrollFailureRow[] = [];
    let overflowAttempts = 0;
    let overflowAddresses = 0;
    for (const [address, attempts] of this.window) {
      if (attempts === 0) continue;
      if (rows.length < MAX_ADDRESS_ROWS_PER_WINDOW) rows.push({ sourceIp: address, attempts });
      else {
        overflowAttempts += attempts;
        overflowAddresses += 1;
      }
    }
    if (overflowAttempts > 0) rows.push({ sourceIp: null, attempts: overflowAttempts, addresses: overflowAddresses });
    this.window.clear();
    return rows;
  }
}
