import { type StreamKind, type StreamTokenClaims, decodeClientStreamMessage } from '@lightsout/shared';
import type { LegHooks } from '../gateway.js';
import type { RecordingStorage, RecordingWriter } from './storage.js';
import type { TenantRecordingUsage } from './tenant-usage.js';

/** Whether a tenant's consoles of a kind are recorded (RecordingPolicy.records). */
export type RecordDecision = (tenant: string, kind: StreamKind) => boolean;

/**
 * Records what the BMC sent in each session, exactly once although legs
 * overlap after a resume: a leg's downstream bytes start at the offset the
 * client put in the `resume` that opened the leg (a later one is refused by
 * the splice and ignored here), and only bytes past what is already stored
 * are appended. The stored byte count survives a relay restart (file length, or
 * the chunks in the store, which a gateway the session moved to reads too).
 */
/** A recording that cannot be opened or written never takes the session (or the relay) down with it. */
export type RecordingFailureReport = (error: unknown, sessionId: string) => void;

export class StreamRecorder {
  private readonly writers = new Map<string, { writer: RecordingWriter; legs: number }>();

  constructor(
    private readonly storage: RecordingStorage,
    private readonly policy: RecordDecision,
    private readonly reportFailure: RecordingFailureReport = () => undefined,
    /** Each tenant's recordings, together, against the tenant's limit; none: no limit but each recording's own. */
    private readonly usage?: TenantRecordingUsage,
  ) {}

  /** A recording still being written (some leg of its session is live): retention must leave it alone. */
  isRecording(sessionId: string): boolean {
    return this.writers.has(sessionId);
  }

  hooksFor(claims: StreamTokenClaims): LegHooks | undefined {
    if (!this.policy(claims.ten, claims.knd)) return undefined;
    let entry = this.writers.get(claims.sid);
    if (!entry) {
      // A tenant whose recordings are at its limit starts none: the session goes on unrecorded, and said.
      if (this.usage?.full(claims.ten)) {
        this.reportFailure(this.usage.exceeded(claims.ten, claims.sid), claims.sid);
        return undefined;
      }
      let writer: RecordingWriter;
      try {
        writer = this.storage.writer(
          { id: claims.sid, sessionId: claims.sid, serverId: claims.srv, tenant: claims.ten, kind: claims.knd, user: claims.usr, subject: claims.sub, startedAt: Date.now() },
          (error) => this.reportFailure(error, claims.sid),
          this.usage?.allowance(claims.ten),
        );
      } catch (error) {
        this.reportFailure(error, claims.sid);
        return undefined;
      }
      entry = { writer, legs: 0 };
      this.writers.set(claims.sid, entry);
    }
    entry.legs += 1;
    const { writer } = entry;
    // awaiting-resume ─client's opening resume {offset}─▶ counting (offset += each downstream chunk relayed).
    // Only the resume that opens the leg says where its output starts (the agent replays from there); after that
    // the offset is what was relayed. A later resume (the splice refuses it) never moves it: output already in
    // flight would be stored at offsets of the client's choosing.
    let leg: { state: 'awaiting-resume' } | { state: 'counting'; offset: number } = { state: 'awaiting-resume' };
    return {
      upstreamControl: (text) => {
        if (leg.state !== 'awaiting-resume') return;
        const message = decodeClientStreamMessage(text);
        if (message.type === 'resume') leg = { state: 'counting', offset: message.offset };
      },
      downstream: (bytes) => {
        if (leg.state !== 'counting') return;
        // The writer keeps only what lies past what is stored (this leg's, an overlapping leg's, another gateway's).
        writer.write(leg.offset, bytes, Date.now());
        leg.offset += bytes.length;
      },
      end: () => {
        const current = this.writers.get(claims.sid);
        if (!current || --current.legs > 0) return;
        current.writer.close();
        this.writers.delete(claims.sid);
      },
    };
  }
}
