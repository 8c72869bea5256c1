/** The most recent `capacity` bytes of a stream: SOL output replayed to viewers who attach late. */
export class RingBuffer {
  private readonly buffer: Uint8Array;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('ring buffer capacity must be a positive integer');
    this.buffer = new Uint8Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length >= this.capacity) {
      this.buffer.set(bytes.subarray(bytes.length - this.capacity));
      this.start = 0;
      this.length = this.capacity;
      return;
    }
    const end = (this.start + this.length) % this.capacity;
    const first = Math.min(bytes.length, this.capacity - end);
    this.buffer.set(bytes.subarray(0, first), end);
    this.buffer.set(bytes.subarray(first), 0);
    const overflow = Math.max(0, this.length + bytes.length - this.capacity);
    this.length = Math.min(this.capacity, this.length + bytes.length);
    this.start = (this.start + overflow) % this.capacity;
  }

  /** A copy of the buffered bytes, oldest first. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.length);
    const first = Math.min(this.length, this.capacity - this.start);
    out.set(this.buffer.subarray(this.start, this.start + first));
    out.set(this.buffer.subarray(0, this.length - first), first);
    return out;
  }
}
