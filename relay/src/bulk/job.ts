import type { BulkEventMessage, BulkJobView, BulkOperation, BulkSelector, BulkServerResult } from '@lightsout/shared';

/**
 * One bulk job's record: who started it, what it acts on, and each server's
 * result as it comes. Lives in the memory of the relay that runs it.
 *
 *   running ─▶ (every server has a result) ─▶ finished
 */
export class BulkJob {
  readonly results: BulkServerResult[] = [];
  private succeeded = 0;
  private finishedAt: Date | null = null;
  private readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(
    readonly id: string,
    readonly tenant: string,
    readonly subject: string,
    readonly operation: BulkOperation,
    readonly selector: BulkSelector,
    readonly serverIds: readonly string[],
    private readonly emit: (job: BulkJob, message: BulkEventMessage) => void,
    readonly createdAt = new Date(),
  ) {
    this.done = new Promise((resolve) => (this.markDone = resolve));
    if (serverIds.length === 0) this.finish();
  }

  get finished(): boolean {
    return this.finishedAt !== null;
  }

  get finishedAtMs(): number | undefined {
    return this.finishedAt?.getTime();
  }

  /** Resolves when every server has a result. */
  settled(): Promise<void> {
    return this.done;
  }

  record(result: BulkServerResult): void {
    if (this.finished) return;
    this.results.push(result);
    if (result.ok) this.succeeded += 1;
    this.emit(this, { type: 'bulk-result', jobId: this.id, result, done: this.results.length, total: this.serverIds.length });
    if (this.results.length === this.serverIds.length) this.finish();
  }

  view(): BulkJobView {
    return {
      id: this.id,
      state: this.finished ? 'finished' : 'running',
      operation: this.operation,
      selector: this.selector,
      total: this.serverIds.length,
      succeeded: this.succeeded,
      failed: this.results.length - this.succeeded,
      createdAt: this.createdAt.toISOString(),
      finishedAt: this.finishedAt === null ? null : this.finishedAt.toISOString(),
      results: [...this.results],
    };
  }

  private finish(): void {
    this.finishedAt = new Date();
    this.emit(this, { type: 'bulk-finished', jobId: this.id, total: this.serverIds.length, succeeded: this.succeeded, failed: this.results.length - this.succeeded });
    this.markDone();
  }
}
