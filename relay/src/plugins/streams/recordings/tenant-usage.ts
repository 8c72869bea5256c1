import { LightsoutError } from '@lightsout/shared';
import type { RecordingAllowance } from './appender.js';
import type { RecordingStorage } from './storage.js';

/** What one tenant's recordings hold at most, together, unless the config says otherwise (store.recordingTenantMaxBytes). */
export const DEFAULT_RECORDING_TENANT_MAX_BYTES = 64 * 1024 ** 3;

/**
 * Bytes each tenant's recordings hold, against one limit per tenant: without
 * it one tenant's consoles, each within its own recording limit, fill the
 * disk every tenant's recordings (and, on SQLite, the store) live on.
 *
 * What a tenant holds is what the storage held at the last scan, plus what
 * this process granted since the scan began (bytes granted while a scan runs
 * may be counted twice until the next one: the error is on the safe side).
 * Another replica's writes are seen at the next scan, so a deployment of N
 * replicas can pass a limit by what N - 1 of them write between two scans;
 * retention and deletions free room at the next scan too.
 */
export class TenantRecordingUsage {
  /** Bytes per tenant in storage at the last scan. */
  private scanned = new Map<string, number>();
  /** Bytes this process granted per tenant, ever. */
  private readonly granted = new Map<string, number>();
  /** `granted` as it stood when the last scan began. */
  private grantedAtScan = new Map<string, number>();
  private scanning: Promise<void> | undefined;

  constructor(
    private readonly storage: RecordingStorage,
    readonly limitBytes: number = DEFAULT_RECORDING_TENANT_MAX_BYTES,
  ) {}

  used(tenant: string): number {
    return (this.scanned.get(tenant) ?? 0) + (this.granted.get(tenant) ?? 0) - (this.grantedAtScan.get(tenant) ?? 0);
  }

  full(tenant: string): boolean {
    return this.used(tenant) >= this.limitBytes;
  }

  allowance(tenant: string): RecordingAllowance {
    return {
      take: (bytes) => {
        const room = Math.max(0, this.limitBytes - this.used(tenant));
        const taken = Math.min(bytes, room);
        this.granted.set(tenant, (this.granted.get(tenant) ?? 0) + taken);
        return taken;
      },
      exceeded: (recordingId) => this.exceeded(tenant, recordingId),
    };
  }

  exceeded(tenant: string, recordingId: string): LightsoutError {
    return new LightsoutError('QUOTA_EXCEEDED', `tenant ${tenant}'s recordings reached their limit of ${this.limitBytes} bytes; session ${recordingId} goes on unrecorded`, {
      hint: "shorten the tenant's recording retention, or raise store.recordingTenantMaxBytes",
      details: { tenant, recording: recordingId, usedBytes: this.used(tenant), limitBytes: this.limitBytes },
    });
  }

  /** Reads what every tenant's recordings hold now. One scan at a time: a caller during one waits for it. */
  rescan(): Promise<void> {
    this.scanning ??= this.scan().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async scan(): Promise<void> {
    const grantedAtStart = new Map(this.granted);
    const totals = new Map<string, number>();
    for (const meta of await this.storage.list()) {
      const size = (await this.storage.size(meta.id)) ?? 0;
      totals.set(meta.tenant, (totals.get(meta.tenant) ?? 0) + size);
    }
    this.scanned = totals;
    this.grantedAtScan = grantedAtStart;
  }
}
