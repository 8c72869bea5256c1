import type { RecordingMeta, RecordingStorage } from './storage.js';

const DAY_MS = 86_400_000;

export interface ExpiredRecording {
  meta: RecordingMeta;
  lastWrittenAt: number;
}

/**
 * Deletes every recording past its tenant's retention (counted from when it
 * last grew, so a session that ran for a week is kept a full period after it
 * ended). A recording still being written is never touched, and a tenant
 * without a retention keeps everything (a recording another replica is
 * writing keeps growing, so its last write is recent). Returns what was
 * deleted, for the log and the audit trail.
 */
export async function sweepExpiredRecordings(
  storage: RecordingStorage,
  retentionDays: (tenant: string) => number | undefined,
  isRecording: (id: string) => boolean,
  now: number,
): Promise<ExpiredRecording[]> {
  const expired: ExpiredRecording[] = [];
  for (const meta of await storage.list()) {
    const days = retentionDays(meta.tenant);
    if (days === undefined || isRecording(meta.id)) continue;
    const lastWrittenAt = (await storage.lastWrittenAt(meta.id)) ?? meta.startedAt;
    if (now - lastWrittenAt < days * DAY_MS) continue;
    // Every replica sweeps a shared store: only the one that deleted it reports it.
    if (await storage.remove(meta.id)) expired.push({ meta, lastWrittenAt });
  }
  return expired;
}
