import { createHash } from 'node:crypto';

/** How many verified tokens a process remembers: a few per live console (route questions, resumes) on the largest gateway. */
export const VERIFIED_TOKENS_MAX = 10_000;

interface Entry<Claims> {
  claims: Claims;
  /** The key that signed it: a hit counts only while that key still verifies (rotation's overlap window). */
  kid: string | undefined;
  /** Epoch ms after which the token is expired (exp plus the clock tolerance), as the verifier judged it. */
  expiresAtMs: number;
}

/**
 * Stream tokens whose signature this process has verified, so the same
 * token is checked with EdDSA once: a client asks the route and resumes
 * with one resume token, and after a gateway failover hundreds do so at
 * once. Keyed by the token's SHA-256 and the audience it was verified for
 * (a hash, not the token, is kept: the table holds no credential).
 * A hit still honours the token's expiry and its key still being
 * published; whether the holder was revoked since, and whether the server
 * is still the tenant's, is checked by the caller on every use, cached or
 * not. Bounded: the least recently used entry goes first, and expired
 * entries are dropped as they are met.
 */
export class VerifiedTokens<Claims> {
  private readonly entries = new Map<string, Entry<Claims>>();

  constructor(
    private readonly now: () => number,
    private readonly keyVerifies: (kid: string | undefined) => boolean,
    private readonly max = VERIFIED_TOKENS_MAX,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The claims of a token verified before for `audience`, if it is still good; undefined means verify it. */
  get(token: string, audience: string): Claims | undefined {
    const id = idOf(token, audience);
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.expiresAtMs || !this.keyVerifies(entry.kid)) {
      this.entries.delete(id);
      return undefined;
    }
    // Most recently used last: eviction takes from the front.
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.claims;
  }

  /** Remember a token whose signature and claims were just verified. */
  remember(token: string, audience: string, claims: Claims, kid: string | undefined, expiresAtMs: number): void {
    const id = idOf(token, audience);
    this.entries.delete(id);
    this.entries.set(id, { claims, kid, expiresAtMs });
    const now = this.now();
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.max && entry.expiresAtMs > now) break;
      this.entries.delete(oldest);
    }
  }
}

function idOf(token: string, audience: string): string {
  return `${audience}\n${createHash('sha256').update(token).digest('base64url')}`;
}
