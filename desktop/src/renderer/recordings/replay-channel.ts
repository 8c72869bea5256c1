import { type RfbRecord, recordsUpTo } from './rfb-capture.js';

/**
 * A WebSocket look-alike for noVNC's RFB (like streams/novnc-channel.ts) that
 * plays a recorded server→client RFB byte stream instead of a live one.
 * What noVNC sends is dropped: the recording already holds the server's
 * answers to the live client's requests. Seeking forward delivers the
 * records up to the target at once; seeking backward needs a fresh RFB and
 * channel (a framebuffer cannot be rewound), fast-forwarded the same way.
 */
export class ReplayChannel {
  binaryType: BinaryType = 'arraybuffer';
  protocol = '';
  readyState: number = WebSocket.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent<ArrayBuffer>) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  #delivered = 0;

  constructor(private readonly records: readonly RfbRecord[]) {}

  /** Records handed to noVNC so far. */
  get delivered(): number {
    return this.#delivered;
  }

  open(): void {
    if (this.readyState !== WebSocket.CONNECTING) return;
    this.readyState = WebSocket.OPEN;
    this.onopen?.(new Event('open'));
  }

  /** Hand noVNC every record up to `timeMs` not handed over yet. */
  deliverUpTo(timeMs: number): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const target = recordsUpTo(this.records, timeMs);
    // Bounded by the number of records.
    while (this.#delivered < target && this.readyState === WebSocket.OPEN) {
      const { bytes } = this.records[this.#delivered]!;
      this.#delivered += 1;
      this.onmessage?.(new MessageEvent('message', { data: bytes.slice().buffer }));
    }
  }

  send(): void {
    // A replay has no server to talk to.
  }

  close(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.onclose?.(new CloseEvent('close', { code: 1000, reason: 'replay closed', wasClean: true }));
  }
}
