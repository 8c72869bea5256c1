import { LightsoutError } from '../errors.js';
import { ByteRing } from './byte-ring.js';
import { StreamLimits } from './session.js';

/**
 * The bytes one end has sent but the other end has not acknowledged yet,
 * addressed by absolute stream offset. After a reconnect the peer says how
 * much it holds (`resume {offset}`) and the sender replays from there, so no
 * byte is lost or sent twice. The bytes are copied into one ring (ByteRing):
 * a keystroke or a SOL packet at a time, per-chunk buffers cost far more
 * than the bytes they held.
 */
export class ReplayBuffer {
  private readonly ring: ByteRing;

  constructor(startOffset = 0) {
    this.ring = new ByteRing({ startOffset });
  }

  get startOffset(): number {
    return this.ring.start;
  }
  get endOffset(): number {
    return this.ring.end;
  }
  /** Bytes held (sent, not yet acknowledged). */
  get size(): number {
    return this.ring.size;
  }
  /** Bytes of storage held for them. */
  get allocatedBytes(): number {
    return this.ring.allocatedBytes;
  }

  push(chunk: Uint8Array): void {
    this.ring.push(chunk);
  }

  /** The peer holds everything before `offset`: forget it. Offsets behind what was already dropped are ignored (late ack). */
  acknowledge(offset: number): void {
    if (offset > this.ring.end) {
      throw new LightsoutError('MALFORMED_MESSAGE', `peer acknowledged offset ${offset} beyond the ${this.ring.end} bytes sent`);
    }
    if (offset > this.ring.start) this.ring.dropBefore(offset);
  }

  /**
   * The bytes from `offset` to the end, to resend after a reconnect, in
   * frames of at most `sendChunkBytes`. An offset before what is held means
   * bytes were lost for good: the session cannot be resumed.
   */
  from(offset: number): Uint8Array[] {
    if (offset < this.ring.start || offset > this.ring.end) {
      throw new LightsoutError('CONFLICT', `cannot resume from offset ${offset}: holding ${this.ring.start}..${this.ring.end}`, {
        hint: 'the session cannot be resumed; open a new one',
      });
    }
    this.acknowledge(offset);
    const bytes = this.ring.copyFrom(offset);
    const frames: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += StreamLimits.sendChunkBytes) frames.push(bytes.subarray(at, at + StreamLimits.sendChunkBytes));
    return frames;
  }
}
