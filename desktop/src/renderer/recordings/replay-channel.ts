import { RawChannel } from '../streams/raw-channel.js';
import { type RfbRecord, recordsUpTo } from './rfb-capture.js';

/**
 * noVNC's socket (streams/raw-channel.ts) playing a recorded server→client
 * RFB byte stream instead of a live one. What noVNC sends is dropped: the
 * recording already holds the server's answers to the live client's
 * requests. Seeking forward delivers the records up to the target at once;
 * seeking backward needs a fresh RFB and channel (a framebuffer cannot be
 * rewound), fast-forwarded the same way.
 */
export class ReplayChannel extends RawChannel {
  #delivered = 0;

  constructor(private readonly records: readonly RfbRecord[]) {
    super();
  }

  /** Records handed to noVNC so far. */
  get delivered(): number {
    return this.#delivered;
  }

  open(): void {
    this.markOpen();
  }

  /** Hand noVNC every record up to `timeMs` not handed over yet. */
  deliverUpTo(timeMs: number): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const target = recordsUpTo(this.records, timeMs);
    // Bounded by the number of records.
    while (this.#delivered < target && this.readyState === WebSocket.OPEN) {
      const { bytes } = this.records[this.#delivered]!;
      this.#delivered += 1;
      // a copy: the records are played again from the start after a seek backward
      this.emit(bytes.slice().buffer);
    }
  }

  send(): void {
    // A replay has no server to talk to.
  }

  close(): void {
    this.closed(1000, 'replay closed');
  }
}
