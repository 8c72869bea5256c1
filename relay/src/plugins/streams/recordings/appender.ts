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
 *
 * Bytes are only ever stored at their own stream offset. A writer that
 * follows another of the same recording in this process (the client
 * reconnected, the relay restarted in-process) reads the stored length only
 * once the previous one has stored what it holds: read earlier, its last
 * append had not landed and the next leg's bytes went in at the wrong place.
 * Bytes that start past what is stored (a crash lost the tail, or another
 * replica's last append is still on its way) leave a gap no append can
 * fill: it is reported (RecordingGapError, a process warning by default)
 * and the recording goes on after what is stored, so a console that failed
 * over to another gateway is still recorded.
 *
 * When to store: a console's output comes in small pieces (an echoed
 * keystroke is one byte), and each append is an open, write and close per
 * file (or a row in the store). Stored after every turn, an interactive
 * session cost the relay two file appends per keystroke, on the same event
 * loop and cores that carry the next keystroke (keystroke-latency,
 * docs/benchmarks.md). So a small pending amount waits up to
 * `flushDelayMs` to be stored together with what follows; `flushBytes` or
 * more (bulk output) is stored after the turn as before, which also bounds
 * what waits. `idle()` and `close()` store what waits at once. What a crash
 * loses is what had not reached storage: at most that delay's worth more
 * than before.
 *
 * A recording holds at most `maxBytes`: one console printing without end (a
 * hostile BMC, a VNC screen changing at full rate) would otherwise fill the
 * data directory, which in the single process also holds the SQLite store,
 * and fail the relay for every tenant. The bytes up to the limit are stored,
 * the limit is reported once through onError (QUOTA_EXCEEDED), and later
 * writes are dropped: the console goes on, unrecorded.
 */

import { LightsoutError } from '@lightsout/shared';

/** Where the appender stores: the backend's two operations. */
export interface AppendTarget {
  /** Bytes stored so far (the stream offset recorded up to); may create the recording. */
  open(): number | Promise<number>;
  /** Stores `bytes` at stream offset `offset` (= what was stored before) with one index entry per chunk. */
  append(offset: number, bytes: Buffer, times: [offset: number, timeMs: number][]): Promise<void>;
}

/** A recording whose backend cannot keep up is dropped (reported) rather than buffered without bound. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** What one recording holds at most unless the storage is given another limit (config store.recordingMaxBytes). */
export const DEFAULT_RECORDING_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * Room shared with other recordings (a tenant's limit, tenant-usage.ts):
 * asked before bytes are kept, it grants what fits, and names the limit when
 * it granted less than asked.
 */
export interface RecordingAllowance {
  /** Grants up to `bytes` (0 when full) and counts what it granted as used. */
  take(bytes: number): number;
  /** The error a recording reports when the allowance ran out under it. */
  exceeded(recordingId: string): LightsoutError;
}

/** When pending bytes are stored (see the class comment). */
export interface AppendSchedule {
  /** Pending bytes below `flushBytes` wait at most this long. */
  flushDelayMs: number;
  /** From this many pending bytes on, they are stored after the current turn. */
  flushBytes: number;
  /** Runs `callback` once the current event-loop turn's callbacks are done (Node: setImmediate). */
  afterTurn(callback: () => void): void;
  /** Runs `callback` after `ms`; returns what cancels it (Node: an unref'd setTimeout). */
  after(ms: number, callback: () => void): () => void;
}

export const nodeAppendSchedule: AppendSchedule = {
  flushDelayMs: 100,
  flushBytes: 64 * 1024,
  afterTurn: (callback) => void setImmediate(callback),
  after: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    // A waiting recording never keeps the process alive: close() and idle() store it at once.
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Bytes arrived for an offset past the recording's stored length: what was between is lost. */
export class RecordingGapError extends Error {
  readonly code = 'RECORDING_GAP';

  constructor(id: string, offset: number, stored: number) {
    super(`recording ${id}: bytes at offset ${offset}, but only ${stored} are stored`);
    this.name = 'RecordingGapError';
  }
}

/**
 * The newest appender of each recording in this process, until it is closed
 * and has stored everything. Process-wide, not per storage: a relay
 * restarted in the same process (tests, the in-process chain) has a new
 * storage over the same recordings.
 */
const latestAppenders = new Map<string, RecordingAppender>();

type State = { name: 'opening'; early: { offset: number | undefined; bytes: Uint8Array; timeMs: number }[]; earlyLength: number } | { name: 'open'; size: number } | { name: 'failed' };

export class RecordingAppender {
  private state: State = { name: 'opening', early: [], earlyLength: 0 };
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  private pendingTimes: [number, number][] = [];
  /** Stream offset of the first pending byte. */
  private pendingStart = 0;
  /** A store after the current turn is scheduled. */
  private turnScheduled = false;
  /** Cancels the delayed store, while one waits. */
  private cancelDelay: (() => void) | undefined;
  private flushing = false;
  /** close() was called: no more writes come, and once idle this appender no longer holds the recording's place. */
  private closed = false;
  /** Stream bytes never stored (a gap before what this writer got): stream offsets minus this are stored offsets. */
  private skipped = 0;
  /** The recording reached maxBytes (and said so): what comes later is not kept. */
  private limitReached = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly id: string,
    private readonly target: AppendTarget,
    private readonly onError: (error: Error) => void,
    private readonly when: AppendSchedule = nodeAppendSchedule,
    private readonly onGap: (gap: RecordingGapError) => void = (gap) => process.emitWarning(gap.message, { code: gap.code }),
    private readonly maxBytes: number = DEFAULT_RECORDING_MAX_BYTES,
    private readonly allowance?: RecordingAllowance,
  ) {
    const previous = latestAppenders.get(id);
    latestAppenders.set(id, this);
    let opened: number | Promise<number>;
    try {
      // After the previous writer's last append, or the length read misses it (then fails through onError).
      opened = previous === undefined || previous.isIdle() ? target.open() : previous.idle().then(() => target.open());
    } catch (error) {
      // The caller of writer() hears a synchronous open failure (as it always did for files).
      this.state = { name: 'failed' };
      this.release();
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
    if (state.name === 'failed' || this.limitReached || bytes.length === 0) return;
    if (state.name === 'opening') {
      if (state.earlyLength + bytes.length > MAX_PENDING_BYTES) return this.fail(new Error(`recording ${this.id} fell ${MAX_PENDING_BYTES} bytes behind while opening`));
      state.early.push({ offset, bytes, timeMs });
      state.earlyLength += bytes.length;
      return;
    }
    let start = offset === undefined ? state.size : offset - this.skipped;
    if (start > state.size) {
      // Bytes past what is stored: the tail before them is lost (a gateway's kill -9 took its unstored
      // output). The recording goes on right after what is stored, so a console that failed over keeps
      // being recorded; later offsets shift by what was skipped, so a replay is still stored once.
      // Reported once per writer: the stored bytes no longer sit at their stream offsets from here.
      if (this.skipped === 0) this.onGap(new RecordingGapError(this.id, offset!, state.size));
      this.skipped += start - state.size;
      start = state.size;
    }
    const end = start + bytes.length;
    if (end <= state.size) return;
    let fresh = bytes.subarray(Math.max(0, state.size - start));
    const room = Math.max(0, this.maxBytes - state.size);
    if (fresh.length > room) {
      this.limitReached = true;
      fresh = fresh.subarray(0, room);
      this.onError(
        new LightsoutError('QUOTA_EXCEEDED', `recording ${this.id} reached its limit of ${this.maxBytes} bytes; the session goes on unrecorded`, {
          hint: 'raise store.recordingMaxBytes to record longer sessions',
          details: { recording: this.id, maxBytes: this.maxBytes },
        }),
      );
      if (fresh.length === 0) return;
    }
    const granted = this.allowance?.take(fresh.length) ?? fresh.length;
    if (granted < fresh.length) {
      this.limitReached = true;
      fresh = fresh.subarray(0, granted);
      this.onError(this.allowance!.exceeded(this.id));
      if (fresh.length === 0) return;
    }
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
    this.storeNow();
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** No more writes come from this writer: what waits is stored now. */
  close(): void {
    this.closed = true;
    this.storeNow();
    this.settle();
  }

  private isIdle(): boolean {
    return this.state.name === 'failed' || (this.state.name === 'open' && !this.flushing && !this.turnScheduled && this.cancelDelay === undefined && this.pendingLength === 0);
  }

  /** What waits for the delay is stored without it (an append in flight takes it right after). */
  private storeNow(): void {
    if (this.cancelDelay === undefined) return;
    this.cancelDelay();
    this.cancelDelay = undefined;
    this.flush();
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
    this.cancelDelay?.();
    this.cancelDelay = undefined;
    this.pending = [];
    this.pendingLength = 0;
    this.pendingTimes = [];
    this.onError(error instanceof Error ? error : new Error(String(error)));
    this.settle();
  }

  private schedule(): void {
    if (this.turnScheduled) return;
    if (this.pendingLength >= this.when.flushBytes) {
      this.cancelDelay?.();
      this.cancelDelay = undefined;
      this.turnScheduled = true;
      this.when.afterTurn(() => {
        this.turnScheduled = false;
        this.flush();
      });
      return;
    }
    this.cancelDelay ??= this.when.after(this.when.flushDelayMs, () => {
      this.cancelDelay = undefined;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing || this.state.name !== 'open' || this.pendingLength === 0) return this.settle();
    // Whatever was scheduled is taken by this append.
    this.cancelDelay?.();
    this.cancelDelay = undefined;
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
        // Bytes that came meanwhile go now if their store was due while this append ran, else when it is due.
        if (this.cancelDelay === undefined && !this.turnScheduled) this.flush();
        else this.settle();
      },
      (error: unknown) => {
        this.flushing = false;
        this.fail(error);
      },
    );
  }

  private settle(): void {
    if (!this.isIdle()) return;
    if (this.closed) this.release();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** A writer opened after this one need not wait for it. */
  private release(): void {
    if (latestAppenders.get(this.id) === this) latestAppenders.delete(this.id);
  }
}
