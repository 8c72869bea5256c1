/**
 * Slows password guessing at the sign-in form (NIST SP 800-63B §5.2.2:
 * limit failed authentication attempts) without letting anyone lock a user
 * out from afar for long.
 *
 * Failures are counted under three keys, each with its own allowance:
 *
 *   user + address   5   one client guessing one account
 *   user            30   one account guessed from many addresses
 *   address        100   one client spraying many accounts
 *
 * Past its allowance a key is locked, 30 s at first and twice as long for
 * each further failure, at most 15 min: while any key of an attempt is
 * locked the password is not even checked (429, Retry-After). A key forgets
 * its failures 15 min after the last one. A successful sign-in clears its
 * user + address and user keys, not its address key (a valid account must
 * not become a way to reset spraying). Counts are per relay process and are
 * lost on restart; the keys are what was typed, whether or not such a user
 * exists, so the answer never tells.
 */
export interface LoginThrottleOptions {
  now?: () => number;
  /** Failures allowed per key before it locks. */
  allowance?: { pair: number; user: number; address: number };
  firstLockMs?: number;
  maxLockMs?: number;
  /** A key forgets its failures this long after the last one. */
  forgetMs?: number;
  /** Keys kept at the most (oldest dropped first): memory stays bounded under a flood of made-up names. */
  maxKeys?: number;
}

interface Failures {
  count: number;
  lastAt: number;
  lockedUntil: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class LoginThrottle {
  private readonly keys = new Map<string, Failures>();
  private readonly now: () => number;
  private readonly allowance: { pair: number; user: number; address: number };
  private readonly firstLockMs: number;
  private readonly maxLockMs: number;
  private readonly forgetMs: number;
  private readonly maxKeys: number;

  constructor(options: LoginThrottleOptions = {}) {
    this.now = options.now ?? Date.now;
    this.allowance = options.allowance ?? { pair: 5, user: 30, address: 100 };
    this.firstLockMs = options.firstLockMs ?? 30_000;
    this.maxLockMs = options.maxLockMs ?? 15 * 60_000;
    this.forgetMs = options.forgetMs ?? 15 * 60_000;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Before checking a password: may this attempt go ahead? */
  check(username: string, address: string): ThrottleVerdict {
    const now = this.now();
    let until = 0;
    for (const key of this.keysOf(username, address)) until = Math.max(until, this.current(key, now)?.lockedUntil ?? 0);
    return until > now ? { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1000) } : { allowed: true };
  }

  failed(username: string, address: string): void {
    const now = this.now();
    const [pair, user, ip] = this.keysOf(username, address);
    this.count(pair!, this.allowance.pair, now);
    this.count(user!, this.allowance.user, now);
    this.count(ip!, this.allowance.address, now);
  }

  succeeded(username: string, address: string): void {
    const [pair, user] = this.keysOf(username, address);
    this.keys.delete(pair!);
    this.keys.delete(user!);
  }

  get size(): number {
    return this.keys.size;
  }

  private keysOf(username: string, address: string): [string, string, string] {
    const user = username.toLowerCase();
    return [`p:${user}\u0000${address}`, `u:${user}`, `a:${address}`];
  }

  /** The key's failures, unless they are old enough to forget. */
  private current(key: string, now: number): Failures | undefined {
    const entry = this.keys.get(key);
    if (entry !== undefined && now - entry.lastAt > this.forgetMs && entry.lockedUntil <= now) {
      this.keys.delete(key);
      return undefined;
    }
    return entry;
  }

  private count(key: string, allowance: number, now: number): void {
    const entry = this.current(key, now) ?? { count: 0, lastAt: now, lockedUntil: 0 };
    entry.count += 1;
    entry.lastAt = now;
    if (entry.count > allowance) entry.lockedUntil = now + Math.min(this.maxLockMs, this.firstLockMs * 2 ** Math.min(30, entry.count - allowance - 1));
    // Re-insert: the Map's order is then last-failure order, so the oldest key goes first when full.
    this.keys.delete(key);
    this.keys.set(key, entry);
    while (this.keys.size > this.maxKeys) this.keys.delete(this.keys.keys().next().value!);
  }
}
