import { ByteRing } from '@lightsout/shared';

/** Where a console's scrollback lives: `push`, then `snapshot` for a late viewer. */
export interface ScrollbackStore {
  /** Output bytes held (at most the capacity). */
  readonly size: number;
  push(bytes: Uint8Array): void;
  /** The last `capacity` bytes of output, oldest first. */
  snapshot(): Uint8Array;
  close(): void;
}

/**
 * The last `capacityBytes` of a console's output, kept so that a viewer who
 * joins a shared SOL/serial console later sees what was already on screen.
 * The bytes are copied into one ring (ByteRing), so a full scrollback costs
 * its capacity whatever the size of the packets it came in: SOL delivers
 * output a packet at a time, and holding each packet as its own buffer cost
 * 8× the capacity with 45-byte packets and 180× with 1-byte ones.
 * `snapshot()` copies once per join.
 */
export class Scrollback implements ScrollbackStore {
  private readonly ring: ByteRing;

  constructor(readonly capacityBytes: number) {
    this.ring = new ByteRing({ maxBytes: Math.max(0, capacityBytes) });
  }

  get size(): number {
    return this.ring.size;
  }

  /** Bytes of storage held (at most `capacityBytes`). */
  get allocatedBytes(): number {
    return this.ring.allocatedBytes;
  }

  push(bytes: Uint8Array): void {
    this.ring.push(bytes);
  }

  snapshot(): Uint8Array {
    return this.ring.copyFrom();
  }

  close(): void {}
}
