/**
 * In-process revocation notices: a user disabled, a role or grant changed, a
 * service-account token revoked. REST calls re-check the store on every
 * request anyway; this is for what outlives a request — live console legs
 * (the streams plugin closes them) and resume tokens (refused while the
 * notice is remembered, which is longer than a resume token lives).
 */
export interface Revocation {
  subject: string;
  reason: string;
  /** Epoch milliseconds. */
  at: number;
}

export type RevocationListener = (revocation: Revocation) => void;

/** Remembered this long: longer than any stream resume token lives. */
const REMEMBER_MS = 15 * 60_000;
const MAX_REMEMBERED = 10_000;

export class Revocations {
  private readonly listeners = new Set<RevocationListener>();
  private readonly recent = new Map<string, Revocation>();

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  revoke(subject: string, reason: string, now = Date.now()): void {
    const revocation = { subject, reason, at: now };
    this.recent.delete(subject);
    this.recent.set(subject, revocation);
    this.prune(now);
    for (const listener of this.listeners) listener(revocation);
  }

  /** Whether a credential issued at `issuedAtMs` for this subject predates a remembered revocation. */
  revokedSince(subject: string, issuedAtMs: number, now = Date.now()): boolean {
    const revocation = this.recent.get(subject);
    return revocation !== undefined && now - revocation.at < REMEMBER_MS && issuedAtMs <= revocation.at;
  }

  private prune(now: number): void {
    // Insertion order is revocation order: the oldest go first.
    for (const [subject, revocation] of this.recent) {
      if (this.recent.size <= MAX_REMEMBERED && now - revocation.at < REMEMBER_MS) break;
      this.recent.delete(subject);
    }
  }
}
