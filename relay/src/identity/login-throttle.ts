/**
 * Slows password guessing at the sign-in form (NIST SP 800-63B §5.2.2:
 * limit failed authentication attempts) by throttling the guesser, never
 * the account's owner: nobody can lock someone else out from afar.
 *
 * Failures are counted under three keys, each with its own allowance:
 *
 *   account + address   5   one client guessing one account       may lock
 *   address           100   one client spraying many accounts     may lock
 *   account            30   one account guessed from many places  only slows
 *
 * Past its allowance an account + address or address key is locked, 30 s at
 * first and twice as long for each further failure, at most 15 min: while a
 * key of an attempt is locked the password is not even checked (429,
 * Retry-After). The account key never refuses anyone: past its allowance the
 * account is "under pressure", which (1) holds every attempt on it for a
 * second before the password is checked, and (2) cuts the account + address
 * allowance to 1, so each address guessing it gets two tries, not six. The
 * right password from an address that has not failed always gets through.
 * A key forgets its failures 15 min after the last one. A successful sign-in
 * clears its account + address key only: neither the address key (a valid
 * account must not reset spraying) nor the account key (the owner signing in
 * must not hand a distributed guesser a fresh allowance). Counts are per
 * relay process and are lost on restart; the keys are what was typed,
 * whether or not such a user exists, so the answer never tells.
 */
export interface LoginThrottleOptions {
  now?: () => number;
  /** Failures allowed per key: past `pair` or `address` the key locks, past `account` the account is under pressure. */
  allowance?: { pair: number; account: number; address: number };
  /** The account + address allowance while the account is under pressure. */
  pairAllowanceUnderPressure?: number;
  /** How long an attempt on an account under pressure is held before its password is checked. */
  pressureDelayMs?: number;
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

export type ThrottleVerdict = { allowed: true; delayMs: number } | { allowed: false; retryAfterSeconds: number };

export const DEFAULT_THROTTLE = { allowance: { pair: 5, account: 30, address: 100 }, pairAllowanceUnderPressure: 1, pressureDelayMs: 1000, firstLockMs: 30_000, maxLockMs: 15 * 60_000, forgetMs: 15 * 60_000 } as const;

export class LoginThrottle {
  private readonly keys = new Map<string, Failures>();
  private readonly now: () => number;
  private readonly allowance: { pair: number; account: number; address: number };
  private readonly pairAllowanceUnderPressure: number;
  private readonly pressureDelayMs: number;
  private readonly firstLockMs: number;
  private readonly maxLockMs: number;
  private readonly forgetMs: number;
  private readonly maxKeys: number;

  constructor(options: LoginThrottleOptions = {}) {
    this.now = options.now ?? Date.now;
    this.allowance = options.allowance ?? DEFAULT_THROTTLE.allowance;
    this.pairAllowanceUnderPressure = options.pairAllowanceUnderPressure ?? DEFAULT_THROTTLE.pairAllowanceUnderPressure;
    this.pressureDelayMs = options.pressureDelayMs ?? DEFAULT_THROTTLE.pressureDelayMs;
    this.firstLockMs = options.firstLockMs ?? DEFAULT_THROTTLE.firstLockMs;
    this.maxLockMs = options.maxLockMs ?? DEFAULT_THROTTLE.maxLockMs;
    this.forgetMs = options.forgetMs ?? DEFAULT_THROTTLE.forgetMs;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Before checking a password: may this attempt go ahead, and after how long a pause? */
  check(username: string, address: string): ThrottleVerdict {
    const now = this.now();
    const [pair, account, ip] = this.keysOf(username, address);
    const until = Math.max(this.current(pair, now)?.lockedUntil ?? 0, this.current(ip, now)?.lockedUntil ?? 0);
    if (until > now) return { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1000) };
    return { allowed: true, delayMs: this.underPressure(account, now) ? this.pressureDelayMs : 0 };
  }

  failed(username: string, address: string): void {
    const now = this.now();
    const [pair, account, ip] = this.keysOf(username, address);
    this.count(account, Number.POSITIVE_INFINITY, now);
    this.count(pair, this.underPressure(account, now) ? this.pairAllowanceUnderPressure : this.allowance.pair, now);
    this.count(ip, this.allowance.address, now);
  }

  succeeded(username: string, address: string): void {
    const [pair] = this.keysOf(username, address);
    this.keys.delete(pair);
  }

  get size(): number {
    return this.keys.size;
  }

  private keysOf(username: string, address: string): [string, string, string] {
    const user = username.toLowerCase();
    return [`p:${user}\u0000${address}`, `u:${user}`, `a:${address}`];
  }

  private underPressure(accountKey: string, now: number): boolean {
    return (this.current(accountKey, now)?.count ?? 0) > this.allowance.account;
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
