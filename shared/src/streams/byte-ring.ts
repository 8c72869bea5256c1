/**
 * A run of a byte stream, addressed by absolute stream offset, held in one
 * ring of bytes: what it costs is the bytes it holds, never the number of
 * pieces they arrived in. A console delivers output a SOL packet at a time
 * (often one byte); keeping each piece as its own buffer cost 100 bytes and
 * more of heap per byte held.
 *
 * The ring grows by doubling up to `maxBytes` and shrinks by halves while it is
 * three-quarters empty, so an idle stream holds `minBytes` and a full one
 * holds at most `maxBytes` (exactly, when it is a power of two). Pushing past
 * `maxBytes` evicts the oldest bytes (a scrollback); a holder that must not
 * lose bytes leaves `maxBytes` unbounded and bounds what it pushes itself.
 * (A replay buffer, which fills and drains a whole window again and again,
 * keeps pages instead: ReplayBuffer.)
 *
 *   storage: | … tail of the run … | free | head of the run … |
 *                                  ^ write  ^ read (offset `start`)
 */
export class ByteRing {
  private storage: Uint8Array;
  /** Index in `storage` of the byte at offset `start`. */
  private readAt = 0;
  private held = 0;
  private first: number;
  private readonly maxBytes: number;
  private readonly minBytes: number;

  constructor(options: { maxBytes?: number; minBytes?: number; startOffset?: number } = {}) {
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    if (!(this.maxBytes >= 0)) throw new RangeError('maxBytes must not be negative');
    this.minBytes = Math.min(options.minBytes ?? 1024, this.maxBytes);
    this.first = options.startOffset ?? 0;
    this.storage = new Uint8Array(0);
  }

  /** Offset of the oldest byte held. */
  get start(): number {
    return this.first;
  }
  /** Offset one past the newest byte held. */
  get end(): number {
    return this.first + this.held;
  }
  get size(): number {
    return this.held;
  }
  /** Bytes of storage the ring has allocated (what it costs, beside a constant). */
  get allocatedBytes(): number {
    return this.storage.byteLength;
  }

  /** Appends `bytes`; past `maxBytes`, the oldest bytes go (`start` moves on). */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.maxBytes === 0) {
      this.first += bytes.length;
      return;
    }
    if (bytes.length >= this.maxBytes) {
      this.first += this.held + bytes.length - this.maxBytes;
      this.resize(this.maxBytes, false);
      this.storage.set(bytes.subarray(bytes.length - this.maxBytes));
      this.readAt = 0;
      this.held = this.maxBytes;
      return;
    }
    const wanted = this.held + bytes.length;
    if (wanted > this.storage.length) this.resize(this.grownCapacity(wanted), true);
    const evict = Math.max(0, wanted - this.storage.length);
    this.discard(evict);
    const capacity = this.storage.length;
    const writeAt = (this.readAt + this.held) % capacity;
    const firstPart = Math.min(bytes.length, capacity - writeAt);
    this.storage.set(bytes.subarray(0, firstPart), writeAt);
    if (firstPart < bytes.length) this.storage.set(bytes.subarray(firstPart), 0);
    this.held += bytes.length;
  }

  /** Forgets every byte before `offset` (an acknowledgement). Offsets outside what is held are clamped. */
  dropBefore(offset: number): void {
    this.discard(Math.min(this.held, Math.max(0, offset - this.first)));
    let capacity = this.storage.length;
    while (capacity > this.minBytes && this.held * 4 <= capacity) capacity = Math.max(this.minBytes, Math.floor(capacity / 2));
    this.resize(capacity, true);
  }

  /** A copy of the bytes from `offset` (clamped to what is held) to the end. */
  copyFrom(offset = this.first): Uint8Array {
    const skip = Math.min(this.held, Math.max(0, offset - this.first));
    const length = this.held - skip;
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const capacity = this.storage.length;
    const from = (this.readAt + skip) % capacity;
    const firstPart = Math.min(length, capacity - from);
    out.set(this.storage.subarray(from, from + firstPart));
    if (firstPart < length) out.set(this.storage.subarray(0, length - firstPart), firstPart);
    return out;
  }

  private discard(count: number): void {
    if (count <= 0) return;
    this.first += count;
    this.held -= count;
    this.readAt = this.held === 0 ? 0 : (this.readAt + count) % this.storage.length;
  }

  /** The next power-of-two size that holds `wanted`, no smaller than `minBytes`, no larger than `maxBytes`. */
  private grownCapacity(wanted: number): number {
    let capacity = Math.max(this.minBytes, this.storage.length, 1);
    while (capacity < wanted && capacity < this.maxBytes) capacity *= 2;
    return Math.min(capacity, this.maxBytes);
  }

  private resize(capacity: number, keep: boolean): void {
    if (capacity === this.storage.length) return;
    const kept = keep ? this.copyFrom() : new Uint8Array(0);
    this.storage = new Uint8Array(capacity);
    this.storage.set(kept.subarray(Math.max(0, kept.length - capacity)));
    this.readAt = 0;
    if (keep) {
      const lost = Math.max(0, kept.length - capacity);
      this.first += lost;
      this.held = kept.length - lost;
    }
  }
}
