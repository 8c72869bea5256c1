import { AttemptTurns } from './attempt-turns.js';

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
 * must not hand a distributed guesser a fresh allowance). Counts live in the
 * store (StoreFailureCounts), so every replica of a deployment counts the
 * same failures and a restart forgets none; each failure is one atomic
 * upsert, so replicas counting at once lose no count. The keys are what was
 * typed, whether or not such a user exists, so the answer never tells.
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
}

export interface Failures {
  count: number;
  lastAt: number;
  lockedUntil: number;
}

/** Where the failures are counted: the store for the relay (shared by its replicas), memory for unit tests. */
export interface FailureCounts {
  /** The entries of these keys that exist (forgotten ones included: the throttle decides). */
  read(keys: string[]): Promise<Map<string, Failures>>;
  /** Count one failure at `now`, atomically: an entry forgotten by `forgetBefore` starts again at 1. */
  add(key: string, now: number, forgetBefore: number): Promise<Failures>;
  /** Lock the key until `until` (never shortens a longer lock). */
  lock(key: string, until: number): Promise<void>;
  clear(key: string): Promise<void>;
}

export type ThrottleVerdict = { allowed: true; delayMs: number } | { allowed: false; retryAfterSeconds: number };

/** Attempts at once from one address (over all accounts); one account + address pair has one at a time. */
const ATTEMPTS_AT_ONCE_PER_ADDRESS = 4;

export const DEFAULT_THROTTLE = { allowance: { pair: 5, account: 30, address: 100 }, pairAllowanceUnderPressure: 1, pressureDelayMs: 1000, firstLockMs: 30_000, maxLockMs: 15 * 60_000, forgetMs: 15 * 60_000 } as const;

export class LoginThrottle {
  private readonly now: () => number;
  private readonly allowance: { pair: number; account: number; address: number };
  private readonly pairAllowanceUnderPressure: number;
  private readonly pressureDelayMs: number;
  private readonly firstLockMs: number;
  private readonly maxLockMs: number;
  readonly forgetMs: number;
  private readonly pairTurns = new AttemptTurns(1);
  private readonly addressTurns = new AttemptTurns(ATTEMPTS_AT_ONCE_PER_ADDRESS);

  constructor(
    private readonly counts: FailureCounts,
    options: LoginThrottleOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.allowance = options.allowance ?? DEFAULT_THROTTLE.allowance;
    this.pairAllowanceUnderPressure = options.pairAllowanceUnderPressure ?? DEFAULT_THROTTLE.pairAllowanceUnderPressure;
    this.pressureDelayMs = options.pressureDelayMs ?? DEFAULT_THROTTLE.pressureDelayMs;
    this.firstLockMs = options.firstLockMs ?? DEFAULT_THROTTLE.firstLockMs;
    this.maxLockMs = options.maxLockMs ?? DEFAULT_THROTTLE.maxLockMs;
    this.forgetMs = options.forgetMs ?? DEFAULT_THROTTLE.forgetMs;
  }

  /**
   * Waits for this attempt's turn (attempt-turns.ts): one at a time per
   * account + address, a few at a time per address. Taken before `check`;
   * the function it resolves with ends the turn, after `failed` or `succeeded`.
   */
  async turn(username: string, address: string): Promise<() => void> {
    const [pair, , ip] = this.keysOf(username, address);
    // Always the address first, then the pair: every attempt takes them in the same order.
    const releaseAddress = await this.addressTurns.take(ip);
    const releasePair = await this.pairTurns.take(pair);
    return () => {
      releasePair();
      releaseAddress();
    };
  }

  /** Before checking a password: may this attempt go ahead, and after how long a pause? */
  async check(username: string, address: string): Promise<ThrottleVerdict> {
    const now = this.now();
    const [pair, account, ip] = this.keysOf(username, address);
    const entries = await this.counts.read([pair, account, ip]);
    const until = Math.max(this.current(entries.get(pair), now)?.lockedUntil ?? 0, this.current(entries.get(ip), now)?.lockedUntil ?? 0);
    if (until > now) return { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1000) };
    return { allowed: true, delayMs: this.underPressure(entries.get(account), now) ? this.pressureDelayMs : 0 };
  }

  async failed(username: string, address: string): Promise<void> {
    const now = this.now();
    const [pair, account, ip] = this.keysOf(username, address);
    const accountEntry = await this.counts.add(account, now, now - this.forgetMs);
    const pressed = accountEntry.count > this.allowance.account;
    await Promise.all([this.count(pair, pressed ? this.pairAllowanceUnderPressure : this.allowance.pair, now), this.count(ip, this.allowance.address, now)]);
  }

  async succeeded(username: string, address: string): Promise<void> {
    const [pair] = this.keysOf(username, address);
    await this.counts.clear(pair);
  }

  private keysOf(username: string, address: string): [string, string, string] {
    const user = username.toLowerCase();
    return [`p:${user}\u0000${address}`, `u:${user}`, `a:${address}`];
  }

  private underPressure(entry: Failures | undefined, now: number): boolean {
    return (this.current(entry, now)?.count ?? 0) > this.allowance.account;
  }

  /** The key's failures, unless they are old enough to forget. */
  private current(entry: Failures | undefined, now: number): Failures | undefined {
    if (entry !== undefined && now - entry.lastAt > this.forgetMs && entry.lockedUntil <= now) return undefined;
    return entry;
  }

  private async count(key: string, allowance: number, now: number): Promise<void> {
    const entry = await this.counts.add(key, now, now - this.forgetMs);
    if (entry.count > allowance) await this.counts.lock(key, now + Math.min(this.maxLockMs, this.firstLockMs * 2 ** Math.min(30, entry.count - allowance - 1)));
  }
}

/** Test-only and for tools: counts in memory, at most `maxKeys` (the oldest failure dropped first). */
export class MemoryFailureCounts implements FailureCounts {
  private readonly keys = new Map<string, Failures>();
  constructor(private readonly maxKeys = 100_000) {}

  get size(): number {
    return this.keys.size;
  }

  async read(keys: string[]): Promise<Map<string, Failures>> {
    return new Map(keys.flatMap((key) => (this.keys.has(key) ? [[key, { ...this.keys.get(key)! }] as const] : [])));
  }

  async add(key: string, now: number, forgetBefore: number): Promise<Failures> {
    const old = this.keys.get(key);
    const entry = old === undefined || (old.lastAt < forgetBefore && old.lockedUntil <= now) ? { count: 0, lastAt: now, lockedUntil: 0 } : old;
    entry.count += 1;
    entry.lastAt = now;
    // Re-insert: the Map's order is then last-failure order, so the oldest key goes first when full.
    this.keys.delete(key);
    this.keys.set(key, entry);
    while (this.keys.size > this.maxKeys) this.keys.delete(this.keys.keys().next().value!);
    return { ...entry };
  }

  async lock(key: string, until: number): Promise<void> {
    const entry = this.keys.get(key);
    if (entry !== undefined) entry.lockedUntil = Math.max(entry.lockedUntil, until);
  }

  async clear(key: string): Promise<void> {
    this.keys.delete(key);
  }
}
