/**
 * The last `capacityBytes` of a console's output, kept so that a viewer who
 * joins a shared SOL/serial console later sees what was already on screen.
 * Chunks are held by reference (ports hand over fresh buffers) and trimmed
 * from the front through a head index (SOL delivers many tiny chunks, so
 * `Array.shift` per trim would be quadratic); `snapshot()` copies once per join.
 */
export class Scrollback {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private total = 0;

  constructor(readonly capacityBytes: number) {}

  get size(): number {
    return this.total;
  }

  append(bytes: Uint8Array): void {
    if (this.capacityBytes <= 0 || bytes.length === 0) return;
    if (bytes.length >= this.capacityBytes) {
      this.chunks = [bytes.slice(bytes.length - this.capacityBytes)];
      this.head = 0;
      this.total = this.capacityBytes;
      return;
    }
    this.chunks.push(bytes);
    this.total += bytes.length;
    // Bounded: each pass drops or trims the oldest chunk, and there are at most as many chunks as appends.
    while (this.total > this.capacityBytes) {
      const oldest = this.chunks[this.head]!;
      const excess = this.total - this.capacityBytes;
      if (oldest.length <= excess) {
        this.head += 1;
        this.total -= oldest.length;
      } else {
        this.chunks[this.head] = oldest.subarray(excess);
        this.total -= excess;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(this.total);
    let at = 0;
    for (let index = this.head; index < this.chunks.length; index += 1) {
      const chunk = this.chunks[index]!;
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
