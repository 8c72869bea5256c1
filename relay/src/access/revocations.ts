import { randomBytes } from 'node:crypto';
import { MAX_WEB_SESSION_SECONDS } from '../config/schema.js';

/**
 * Revocation notices: what ends access that outlives a request. REST calls
 * re-check the store on every request anyway; these are for live console
 * legs, resume tokens, event feeds and uploads in progress, which each
 * relay ends the moment it hears a notice.
 *
 *   subject       a user disabled, their role, grants or password changed, an
 *                 API token revoked (`svc:<id>`): everything that user or
 *                 token holds ends; credentials issued before `at` stop
 *                 bringing it back.
 *   server-moved  a provider admin put the server in another tenant: every
 *                 session, resume token, recording and mount of any other
 *                 tenant on it ends.
 *
 * A notice goes through a channel (revocation-channels.ts) so that every
 * relay sharing the store hears it, this one included.
 */
export type RevocationNotice =
  | { kind: 'subject'; id: string; subject: string; reason: string; at: number }
  | { kind: 'server-moved'; id: string; serverId: string; agentId: string; from: string; to: string; by: string; at: number };

export type RevocationListener = (notice: RevocationNotice) => void;

/** How notices travel between the relays on one store. */
export interface RevocationChannel {
  /** Make the notice known to every relay on the store; resolves once it is stored (and sent). */
  publish(notice: RevocationNotice): Promise<void>;
  /** Start hearing notices (other relays', and recent ones again after a reconnect); each may arrive more than once. */
  start(deliver: (notice: RevocationNotice) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * Remembered this long: as long as any credential granted before a notice
 * can still be presented. The longest-lived is a web session's cookie, good
 * until the session ends, at most MAX_WEB_SESSION_SECONDS after it was
 * granted (resume tokens live 5 minutes, but each carries its session's
 * grant time, so the same bound holds for a chain of them); plus the clock
 * tolerance tokens are checked with. A notice forgotten earlier would let
 * such a cookie back in.
 */
export const REMEMBER_MS = (MAX_WEB_SESSION_SECONDS + 5 * 60) * 1000;
/**
 * Subjects whose last revocation is remembered. Evicting one early would
 * bring its credentials back, so the bound is far above what admins revoke
 * in a day (one entry per user or API token, whatever its number of notices).
 */
const MAX_SUBJECTS = 100_000;
/** Notice ids already acted on: forgetting one early only means acting on a redelivery again (idempotent). */
const MAX_SEEN = 10_000;

/** One process only (tests of a single plugin): publishing is hearing. */
export class InProcessChannel implements RevocationChannel {
  private deliver: ((notice: RevocationNotice) => void) | undefined;
  async publish(notice: RevocationNotice): Promise<void> {
    this.deliver?.(notice);
  }
  async start(deliver: (notice: RevocationNotice) => void): Promise<void> {
    this.deliver = deliver;
  }
  async close(): Promise<void> {
    this.deliver = undefined;
  }
}

export class Revocations {
  private readonly listeners = new Set<RevocationListener>();
  /** Last revocation per subject (insertion order = revocation order, for pruning). */
  private readonly recent = new Map<string, number>();
  /** Notices already acted on: a channel may deliver one again (our own echo, a re-read after a reconnect). */
  private readonly seen = new Map<string, number>();
  private channel: RevocationChannel = new InProcessChannel();

  constructor(private readonly now: () => number = Date.now) {}

  /** Listen on a channel shared with the other relays (the store plugin wires it). */
  async connect(channel: RevocationChannel): Promise<void> {
    await this.channel.close();
    this.channel = channel;
    await channel.start((notice) => this.hear(notice));
  }

  async close(): Promise<void> {
    await this.channel.close();
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A user or API token lost access: acted on here at once, then on every other relay. */
  revoke(subject: string, reason: string): Promise<void> {
    return this.publish({ kind: 'subject', id: noticeId(), subject, reason, at: this.now() });
  }

  /** A server changed tenant: every other tenant's hold on it ends. */
  serverMoved(move: { serverId: string; agentId: string; from: string; to: string; by: string }): Promise<void> {
    return this.publish({ kind: 'server-moved', id: noticeId(), ...move, at: this.now() });
  }

  /** Whether a credential granted at `issuedAtMs` (a stream token's session grant time) for this subject predates a remembered revocation. */
  revokedSince(subject: string, issuedAtMs: number): boolean {
    const at = this.recent.get(subject);
    return at !== undefined && this.now() - at < REMEMBER_MS && issuedAtMs <= at;
  }

  private async publish(notice: RevocationNotice): Promise<void> {
    // This relay acts before the store round trip: the caller's answer comes after its own legs are closed.
    this.hear(notice);
    await this.channel.publish(notice);
  }

  private hear(notice: RevocationNotice): void {
    if (this.seen.has(notice.id)) return;
    this.seen.set(notice.id, notice.at);
    if (notice.kind === 'subject') {
      const previous = this.recent.get(notice.subject);
      if (previous === undefined || previous < notice.at) {
        this.recent.delete(notice.subject);
        this.recent.set(notice.subject, notice.at);
      }
    }
    this.prune();
    for (const listener of this.listeners) listener(notice);
  }

  private prune(): void {
    const now = this.now();
    for (const [map, bound] of [
      [this.recent, MAX_SUBJECTS],
      [this.seen, MAX_SEEN],
    ] as const) {
      for (const [key, at] of map) {
        if (map.size <= bound && now - at < REMEMBER_MS) break;
        map.delete(key);
      }
    }
  }
}

function noticeId(): string {
  return randomBytes(12).toString('base64url');
}
