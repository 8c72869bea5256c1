/**
 * The write side every recording backend shares: bytes handed in during one
 * event-loop turn are stored after it as one append, one append in flight
 * per recording, and only what lies past the bytes already stored is kept
 * (legs overlap after a resume, and a session that moved to another gateway
 * continues a recording another replica started).
 *
 *   opening ─opened(size)─▶ open ─(append fails / falls behind)─▶ failed
 *      └──────────────open fails──────────────────────────────────▶ failed
 *
 * While opening (a database backend learns the stored length asynchronously)
 * writes wait in order; `append` without an offset means "after whatever is
 * stored then".
 */

/** Where the appender stores: the backend's two operations. */
export interface AppendTarget {
  /** Bytes stored so far (the stream offset recorded up to); may create the recording. */
  open(): number | Promise<number>;
  /** Stores `bytes` at stream offset `offset` (= what was stored before) with one index entry per chunk. */
  append(offset: number, bytes: Buffer, times: [offset: number, timeMs: number][]): Promise<void>;
}

/** A recording whose backend cannot keep up is dropped (reported) rather than buffered without bound. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

type State = { name: 'opening'; early: { offset: number | undefined; bytes: Uint8Array; timeMs: number }[]; earlyLength: number } | { name: 'open'; size: number } | { name: 'failed' };

export class RecordingAppender {
  private state: State = { name: 'opening', early: [], earlyLength: 0 };
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  private pendingTimes: [number, number][] = [];
  /** Stream offset of the first pending byte. */
  private pendingStart = 0;
  private scheduled = false;
  private flushing = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly id: string,
    private readonly target: AppendTarget,
    private readonly onError: (error: Error) => void,
  ) {
    let opened: number | Promise<number>;
    try {
      opened = target.open();
    } catch (error) {
      // The caller of writer() hears a synchronous open failure (as it always did for files).
      this.state = { name: 'failed' };
      throw error;
    }
    if (typeof opened === 'number') this.opened(opened);
    else opened.then((size) => this.opened(size), (error: unknown) => this.fail(error));
  }

  /** Bytes accepted so far (stored or pending), once the stored length is known. */
  get size(): number | undefined {
    return this.state.name === 'open' ? this.state.size : undefined;
  }

  /** Keeps what of `bytes` (starting at stream offset `offset`; undefined: right after what is held) is new. */
  write(offset: number | undefined, bytes: Uint8Array, timeMs: number): void {
    const state = this.state;
    if (state.name === 'failed' || bytes.length === 0) return;
    if (state.name === 'opening') {
      if (state.earlyLength + bytes.length > MAX_PENDING_BYTES) return this.fail(new Error(`recording ${this.id} fell ${MAX_PENDING_BYTES} bytes behind while opening`));
      state.early.push({ offset, bytes, timeMs });
      state.earlyLength += bytes.length;
      return;
    }
    const start = offset ?? state.size;
    const end = start + bytes.length;
    if (end <= state.size) return;
    const fresh = bytes.subarray(Math.max(0, state.size - start));
    if (this.pendingLength + fresh.length > MAX_PENDING_BYTES) return this.fail(new Error(`recording ${this.id} fell ${MAX_PENDING_BYTES} bytes behind its storage`));
    if (this.pendingLength === 0) this.pendingStart = state.size;
    this.pendingTimes.push([state.size, timeMs]);
    this.pending.push(fresh);
    this.pendingLength += fresh.length;
    state.size += fresh.length;
    this.schedule();
  }

  /** Resolves once nothing handed in so far waits to be stored (stored, or the recording failed). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.state.name === 'failed' || (this.state.name === 'open' && !this.flushing && !this.scheduled && this.pendingLength === 0);
  }

  private opened(size: number): void {
    const state = this.state;
    if (state.name !== 'opening') return;
    this.state = { name: 'open', size };
    for (const early of state.early) this.write(early.offset, early.bytes, early.timeMs);
    this.settle();
  }

  private fail(error: unknown): void {
    if (this.state.name === 'failed') return;
    this.state = { name: 'failed' };
    this.pending = [];
    this.pendingLength = 0;
    this.pendingTimes = [];
    this.onError(error instanceof Error ? error : new Error(String(error)));
    this.settle();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing || this.state.name !== 'open' || this.pendingLength === 0) return this.settle();
    this.flushing = true;
    const bytes = Buffer.concat(this.pending, this.pendingLength);
    const times = this.pendingTimes;
    const offset = this.pendingStart;
    this.pending = [];
    this.pendingLength = 0;
    this.pendingTimes = [];
    this.target.append(offset, bytes, times).then(
      () => {
        this.flushing = false;
        this.flush();
      },
      (error: unknown) => {
        this.flushing = false;
        this.fail(error);
      },
    );
  }

  private settle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
