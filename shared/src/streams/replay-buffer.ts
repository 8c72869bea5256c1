import { LightsoutError } from '../errors.js';

/**
 * The bytes one end has sent but the other end has not acknowledged yet,
 * addressed by absolute stream offset. After a reconnect the peer says how
 * much it holds (`resume {offset}`) and the sender replays from there, so no
 * byte is lost or sent twice. Chunks are kept as they were sent (no copy);
 * a partial acknowledgement keeps a subarray view of the first chunk.
 */
export class ReplayBuffer {
  private readonly chunks: Uint8Array[] = [];
  /** Offset of the first byte still held. */
  private start: number;
  /** Offset one past the last byte sent. */
  private end: number;

  constructor(startOffset = 0) {
    this.start = startOffset;
    this.end = startOffset;
  }

  get startOffset(): number {
    return this.start;
  }
  get endOffset(): number {
    return this.end;
  }
  /** Bytes held (sent, not yet acknowledged). */
  get size(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.end += chunk.length;
  }

  /** The peer holds everything before `offset`: forget it. Offsets behind what was already dropped are ignored (late ack). */
  acknowledge(offset: number): void {
    if (offset > this.end) {
      throw new LightsoutError('MALFORMED_MESSAGE', `peer acknowledged offset ${offset} beyond the ${this.end} bytes sent`);
    }
    let drop = offset - this.start;
    if (drop <= 0) return;
    this.start = offset;
    // Bounded by the number of chunks held.
    while (drop > 0) {
      const first = this.chunks[0]!;
      if (first.length <= drop) {
        this.chunks.shift();
        drop -= first.length;
      } else {
        this.chunks[0] = first.subarray(drop);
        drop = 0;
      }
    }
  }

  /**
   * The bytes from `offset` to the end, to resend after a reconnect. An
   * offset before what is held means bytes were lost for good: the session
   * cannot be resumed.
   */
  from(offset: number): Uint8Array[] {
    if (offset < this.start || offset > this.end) {
      throw new LightsoutError('CONFLICT', `cannot resume from offset ${offset}: holding ${this.start}..${this.end}`, {
        hint: 'the session cannot be resumed; open a new one',
      });
    }
    this.acknowledge(offset);
    return [...this.chunks];
  }
}
