import { LightsoutError } from '../errors.js';
import { StreamLimits } from './session.js';

/** The smallest page: what an idle or keystroke-sized stream holds. */
const MIN_PAGE_BYTES = 1024;
/** The largest page: a bulk stream's window (8 MiB) is held in pages of this size, never in one block. */
const MAX_PAGE_BYTES = 64 * 1024;
/**
 * Acknowledged largest pages kept for the next pushes: a bulk sender reuses
 * them instead of allocating (and collecting) 64 KiB per 64 KiB sent. At
 * least one ack's worth (an ack comes every `ackEveryBytes`), and as many as
 * fit beside what is still held within the sender's window: acks arrive in
 * bursts (several in one socket read), and a sender with a full window
 * refills what a burst freed. Keeping only one ack's worth let the rest of
 * each burst go to the collector and be allocated again, zero-filled, by the
 * next pushes — the largest part of the bench client's CPU in
 * relay-throughput (docs/benchmarks.md); keeping up to what was still held
 * left a fifth of a bulk sender's pages new (859 of 4,096 per 256 MiB: a
 * sender bound by its own CPU lets its window drain between bursts).
 * Storage stays within the window (what a sender may hold anyway), or one
 * ack's worth beside a smaller hold.
 */
const MIN_SPARE_PAGES = StreamLimits.ackEveryBytes / MAX_PAGE_BYTES;

/**
 * The bytes one end has sent but the other end has not acknowledged yet,
 * addressed by absolute stream offset. After a reconnect the peer says how
 * much it holds (`resume {offset}`) and the sender replays from there, so no
 * byte is lost or sent twice.
 *
 * The bytes are copied into a queue of pages: a keystroke or a SOL packet at
 * a time, per-chunk buffers cost far more than the bytes they held. Pages
 * start small and double up to 64 KiB as the buffer fills, and an
 * acknowledgement drops whole pages (keeping spare 64 KiB pages, up to what
 * is still held, for a bulk sender's next pushes). One contiguous ring that doubled and
 * halved with what it held (ByteRing) reallocated and copied megabytes each
 * time a bulk sender's window filled and drained — most of the client's CPU
 * in relay-throughput (docs/benchmarks.md, Stream plane).
 *
 *   pages: [ acknowledged | held … ] [ held … ] … [ held … | free ]
 *            ^ headAt                                       ^ tailAt
 */
export class ReplayBuffer {
  private readonly pages: Uint8Array[] = [];
  /** Acknowledged pages of MAX_PAGE_BYTES, reused by addPage (counted in allocatedBytes). */
  private readonly spares: Uint8Array[] = [];
  /** Index in pages[0] of the byte at `startOffset`. */
  private headAt = 0;
  /** Bytes written into the last page. */
  private tailAt = 0;
  private first: number;
  private held = 0;
  private allocated = 0;
  private pagesMade = 0;
  /** Held bytes plus spare pages stay within this (the sender's window). */
  private readonly storageBytes: number;

  constructor(startOffset = 0, options: { storageBytes?: number } = {}) {
    this.first = startOffset;
    this.storageBytes = options.storageBytes ?? StreamLimits.windowBytes;
  }

  get startOffset(): number {
    return this.first;
  }
  get endOffset(): number {
    return this.first + this.held;
  }
  /** Bytes held (sent, not yet acknowledged). */
  get size(): number {
    return this.held;
  }
  /** Bytes of storage held for them. */
  get allocatedBytes(): number {
    return this.allocated;
  }
  /** Of allocatedBytes, the acknowledged pages kept for the next pushes. */
  get spareBytes(): number {
    return this.spares.length * MAX_PAGE_BYTES;
  }
  /** Pages allocated so far (reused spares not counted): what a bulk sender's steady state should keep still. */
  get pagesAllocated(): number {
    return this.pagesMade;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      let tail = this.pages[this.pages.length - 1];
      if (tail === undefined || this.tailAt === tail.length) {
        tail = this.addPage(this.held + at);
      }
      const count = Math.min(chunk.length - at, tail.length - this.tailAt);
      tail.set(at === 0 && count === chunk.length ? chunk : chunk.subarray(at, at + count), this.tailAt);
      this.tailAt += count;
      at += count;
    }
    this.held += chunk.length;
  }

  /** The peer holds everything before `offset`: forget it. Offsets behind what was already dropped are ignored (late ack). */
  acknowledge(offset: number): void {
    if (offset > this.endOffset) {
      throw new LightsoutError('MALFORMED_MESSAGE', `peer acknowledged offset ${offset} beyond the ${this.endOffset} bytes sent`);
    }
    if (offset <= this.first) return;
    let drop = offset - this.first;
    this.first = offset;
    this.held -= drop;
    while (drop > 0) {
      const head = this.pages[0]!;
      const inHead = (this.pages.length === 1 ? this.tailAt : head.length) - this.headAt;
      if (drop < inHead || (drop === inHead && this.pages.length === 1)) {
        this.headAt += drop;
        break;
      }
      drop -= inHead;
      this.pages.shift();
      this.release(head);
      this.headAt = 0;
    }
    if (this.held === 0) {
      // Nothing held: keep one small page, so the next keystroke allocates nothing — not even the
      // lists: each console acknowledges a keystroke a second, and lists made anew each time outlive
      // the young generation in a thousand long-lived buffers (docs/benchmarks.md, soak).
      const last = this.pages[this.pages.length - 1];
      if (last !== undefined && last.length === MIN_PAGE_BYTES) {
        this.pages[0] = last;
        this.pages.length = 1;
      } else {
        this.pages.length = 0;
      }
      this.spares.length = 0;
      this.allocated = this.pages.length * MIN_PAGE_BYTES;
      this.headAt = 0;
      this.tailAt = 0;
    } else {
      // Little left in large pages (a bulk stream slowed down): the rest moves into one small page, and the
      // large pages wait as spares for the next burst (what a sender bound by its own CPU does between drains).
      const inUse = this.allocated - this.spares.length * MAX_PAGE_BYTES;
      if (inUse <= MIN_PAGE_BYTES || inUse <= 4 * this.held) return;
      const rest = this.copyFrom(this.first);
      for (const page of this.pages) this.release(page);
      this.pages.length = 0;
      this.headAt = 0;
      this.tailAt = 0;
      const page = this.addPage(rest.length, false);
      page.set(rest);
      this.tailAt = rest.length;
    }
  }

  /** An acknowledged page: a spare while the window has room for it (largest pages only), else storage given back. */
  private release(page: Uint8Array): void {
    if (page.length === MAX_PAGE_BYTES && this.spares.length < Math.max(MIN_SPARE_PAGES, (this.storageBytes - this.held) / MAX_PAGE_BYTES)) this.spares.push(page);
    else this.allocated -= page.length;
  }

  /**
   * The bytes from `offset` to the end, to resend after a reconnect, in
   * frames of at most `sendChunkBytes`. An offset before what is held means
   * bytes were lost for good: the session cannot be resumed. The frames are
   * copies: a sender may mask them in place.
   */
  from(offset: number): Uint8Array[] {
    if (offset < this.first || offset > this.endOffset) {
      throw new LightsoutError('CONFLICT', `cannot resume from offset ${offset}: holding ${this.first}..${this.endOffset}`, {
        hint: 'the session cannot be resumed; open a new one',
      });
    }
    this.acknowledge(offset);
    const bytes = this.copyFrom(offset);
    const frames: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += StreamLimits.sendChunkBytes) frames.push(bytes.subarray(at, at + StreamLimits.sendChunkBytes));
    return frames;
  }

  /** A spare page, else a new one about as large as what is held (so storage stays within twice the bytes), at least MIN_PAGE_BYTES, at most MAX_PAGE_BYTES. */
  private addPage(holding: number, spareFirst = true): Uint8Array {
    let size = MIN_PAGE_BYTES;
    while (size < MAX_PAGE_BYTES && size <= holding) size *= 2;
    // A spare is already paid for: a burst after a lull continues in one, not in small pages doubling up again.
    const spare = spareFirst || size === MAX_PAGE_BYTES ? this.spares.pop() : undefined;
    const page = spare ?? new Uint8Array(size);
    this.pages.push(page);
    if (spare === undefined) {
      this.allocated += size;
      this.pagesMade += 1;
    }
    this.tailAt = 0;
    return page;
  }

  private copyFrom(offset: number): Uint8Array {
    const out = new Uint8Array(this.endOffset - offset);
    let skip = offset - this.first + this.headAt;
    let at = 0;
    for (let index = 0; index < this.pages.length; index += 1) {
      const page = this.pages[index]!;
      const end = index === this.pages.length - 1 ? this.tailAt : page.length;
      if (skip >= end) {
        skip -= end;
        continue;
      }
      out.set(page.subarray(skip, end), at);
      at += end - skip;
      skip = 0;
    }
    return out;
  }
}
