import { LightsoutError } from '../errors.js';
import { ReplayBuffer } from './replay-buffer.js';
import { StreamLimits } from './session.js';

export interface StreamEndpointOptions {
  windowBytes?: number;
  ackEveryBytes?: number;
}

/**
 * One end of a resumable byte stream (the client, or the agent's side of one
 * session): pure bookkeeping, no I/O, so the CLI, the browser and the agent
 * share it.
 *
 * Outbound: every byte sent is kept until the peer acknowledges it; at most
 * `windowBytes` may be unacknowledged, which is also the end-to-end flow
 * control (a sender stops reading its source while `canSend` is false).
 * Inbound: count bytes received; acknowledge every `ackEveryBytes` (the
 * transport also acks on an idle timer).
 */
export class StreamEndpoint {
  readonly outbound: ReplayBuffer;
  private receivedBytes: number;
  private acknowledgedToPeer: number;
  private readonly windowBytes: number;
  private readonly ackEveryBytes: number;

  constructor(options: StreamEndpointOptions = {}) {
    this.receivedBytes = 0;
    this.acknowledgedToPeer = 0;
    this.windowBytes = options.windowBytes ?? StreamLimits.windowBytes;
    this.outbound = new ReplayBuffer(0, { storageBytes: this.windowBytes });
    this.ackEveryBytes = options.ackEveryBytes ?? StreamLimits.ackEveryBytes;
  }

  /** Bytes received from the peer since the session began (what `resume` and `ack` carry). */
  get received(): number {
    return this.receivedBytes;
  }
  get sent(): number {
    return this.outbound.endOffset;
  }
  get unacknowledged(): number {
    return this.outbound.size;
  }
  /** Whether the credit window allows sending more now. */
  get canSend(): boolean {
    return this.outbound.size < this.windowBytes;
  }

  /** Record bytes about to be sent; the transport sends the same chunk. */
  recordSent(chunk: Uint8Array): void {
    this.outbound.push(chunk);
  }

  /** Bytes arrived from the peer; returns true when an ack is due now. */
  recordReceived(length: number): boolean {
    this.receivedBytes += length;
    return this.receivedBytes - this.acknowledgedToPeer >= this.ackEveryBytes;
  }

  /**
   * Bytes received since the last ack (or resume) this end sent: what the
   * peer has in flight against its window. More than `windowBytes` means the
   * peer ignored the window (the receiver decides what that costs it).
   */
  get receivedUnacknowledged(): number {
    return this.receivedBytes - this.acknowledgedToPeer;
  }

  /** Whether bytes arrived since the last ack (for the idle-timer ack). */
  get ackPending(): boolean {
    return this.receivedBytes > this.acknowledgedToPeer;
  }

  /** The offset to put in an ack (or resume) now; remembers it was sent. */
  takeAck(): number {
    this.acknowledgedToPeer = this.receivedBytes;
    return this.receivedBytes;
  }

  /** Peer's ack: free the replay buffer. Returns true when this reopened a closed window. */
  onPeerAck(offset: number): boolean {
    const wasBlocked = !this.canSend;
    this.outbound.acknowledge(offset);
    return wasBlocked && this.canSend;
  }

  /** Peer's resume: the chunks to send again, in order, before any new data. */
  onPeerResume(offset: number): Uint8Array[] {
    if (offset > this.outbound.endOffset) {
      throw new LightsoutError('MALFORMED_MESSAGE', `peer claims ${offset} bytes but only ${this.outbound.endOffset} were sent`);
    }
    return this.outbound.from(offset);
  }

  /** A new leg starts: the peer learns our position from `resume`, so the ack baseline resets to it. */
  startLeg(): number {
    return this.takeAck();
  }
}
