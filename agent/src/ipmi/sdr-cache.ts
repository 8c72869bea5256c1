import { decodeSdrRepositoryInfo, getSdrRepositoryInfoRequest, type SdrRecord, type SdrRepositoryInfo } from '@lightsout/bmc-wire/ipmi';
import { sdrRecords, type IpmiRequester } from './commands.js';
import { completionCodeOfError } from './session/core.js';

/** Even an unchanged-looking repository is read again after this long (a BMC whose timestamps never move). */
export const SDR_CACHE_MAX_AGE_MS = 3_600_000;

/**
 * One BMC's SDR repository, read once and kept while Get SDR Repository Info
 * (IPMI v2.0 §33.9) says it has not changed. A walk costs a Get SDR per 16
 * bytes of every record (§33.12), so reading the sensors of a BMC with 60 of
 * them is some 300 requests with a walk each time and 61 with the cache
 * (one repository info, then a reading each) — and the agent reads every
 * server's sensors in the background. The repository changes when a record
 * is added (most recent addition timestamp) or deleted or the repository
 * cleared (most recent erase timestamp, §33.9); the record count is in the
 * key too, for a BMC whose clock never moves. FreeIPMI keeps the same cache
 * on disk (its sdr-cache, checked against the same response).
 *
 * A BMC that refuses Get SDR Repository Info (a completion code) is walked
 * on every read, as before: without it nothing tells a stale copy.
 */
export class SdrCache {
  private cached: { key: string; records: SdrRecord[]; readAt: number } | undefined;

  constructor(
    private readonly maxAgeMs = SDR_CACHE_MAX_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async records(session: IpmiRequester): Promise<SdrRecord[]> {
    const info = await repositoryInfo(session);
    if (info === undefined) return sdrRecords(session);
    const key = `${info.recordCount}/${info.lastAddition}/${info.lastErase}`;
    const cached = this.cached;
    if (cached !== undefined && cached.key === key && this.now() - cached.readAt < this.maxAgeMs) return cached.records;
    const records = await sdrRecords(session);
    this.cached = { key, records, readAt: this.now() };
    return records;
  }

  /** Forget the copy (the next read walks the repository). */
  clear(): void {
    this.cached = undefined;
  }
}

async function repositoryInfo(session: IpmiRequester): Promise<SdrRepositoryInfo | undefined> {
  let data: Uint8Array;
  try {
    data = await session.request(getSdrRepositoryInfoRequest());
  } catch (error) {
    // A refusal is the BMC's answer; a lost session or a timeout is not, and fails the read as before.
    if (completionCodeOfError(error) === undefined) throw error;
    return undefined;
  }
  try {
    return decodeSdrRepositoryInfo(data);
  } catch {
    // A short answer tells nothing either: the walk still can.
    return undefined;
  }
}
