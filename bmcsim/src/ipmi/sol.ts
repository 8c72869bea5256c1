import { decodeSolPacket, encodeSolPacket, nextSolSequence, SOL_OPERATION, SOL_STATUS } from '@lightsout/bmc-wire/ipmi';
import type { Host } from '../host/host.js';

/**
 * The BMC's one SOL payload instance (IPMI v2.0 §15, §24). At most one
 * session owns it; a second Activate Payload gets 0x80 "already active".
 *
 * Host → console: at most one unacknowledged data packet; it is retransmitted
 * with the same SOL sequence (new session sequence) until ACKed, and a partial
 * ACK (accepted < sent) resends the rest under the next sequence (§15.9).
 * Console → host: every data packet is ACKed with its full length; a
 * retransmit of the last sequence is ACKed again and only bytes beyond those
 * already delivered reach the host.
 */
export interface SolOwner {
  sessionId: number;
  send(payload: Uint8Array): void;
}

export interface SolOptions {
  host: Host;
  /** Data bytes per outbound packet (max outbound payload − 4-byte SOL header). */
  maxData: number;
  retryMs: number;
  maxRetries: number;
}

const MAX_BUFFERED = 64 * 1024;

type Owner = { kind: 'session'; owner: SolOwner } | { kind: 'phantom' };

interface InFlight {
  sequence: number;
  data: Uint8Array;
  retries: number;
}

export class SolPayload {
  private holder: Owner | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private overrun = false;
  private outboundSequence = 0;
  private inFlight: InFlight | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastInboundSequence = 0;
  private lastInboundLength = 0;
  private readonly onSerial = (bytes: Uint8Array) => this.queue(bytes);

  constructor(private readonly options: SolOptions) {}

  /** The fault "SOL held by another session": a phantom owner nobody can reach. */
  holdForPhantom(): void {
    this.release();
    this.holder = { kind: 'phantom' };
  }

  /** Owner session ID for Get Payload Instance Info (0 = inactive; the phantom reports 0xFFFFFFFF). */
  get ownerSessionId(): number {
    if (!this.holder) return 0;
    return this.holder.kind === 'phantom' ? 0xffffffff : this.holder.owner.sessionId;
  }

  get active(): boolean {
    return this.holder !== undefined;
  }

  activate(owner: SolOwner): boolean {
    if (this.holder) return false;
    this.holder = { kind: 'session', owner };
    this.outboundSequence = 0;
    this.lastInboundSequence = 0;
    this.lastInboundLength = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.options.host.on('serial', this.onSerial);
    return true;
  }

  /** Deactivate Payload from any session (FreeIPMI "steals" this way), or the owner closing. */
  deactivate(): boolean {
    if (!this.holder) return false;
    if (this.holder.kind === 'session') {
      // Tell the owner, as BMCs do when another session takes SOL over (§15.9 status bit 4, "SOL deactivating").
      this.outboundSequence = nextSolSequence(this.outboundSequence);
      this.send({ sequence: this.outboundSequence, ackSequence: 0, acceptedCount: 0, control: SOL_STATUS.deactivating, data: new Uint8Array() });
    }
    this.release();
    return true;
  }

  /** Drops ownership only if `sessionId` owns it (session closed or timed out). */
  releaseIfOwner(sessionId: number): void {
    if (this.holder?.kind === 'session' && this.holder.owner.sessionId === sessionId) this.release();
  }

  isOwner(sessionId: number): boolean {
    return this.holder?.kind === 'session' && this.holder.owner.sessionId === sessionId;
  }

  /** A SOL payload from the owning session's console. */
  receive(payload: Uint8Array): void {
    if (this.holder?.kind !== 'session') return;
    const packet = decodeSolPacket(payload);
    if (packet.ackSequence !== 0 && this.inFlight && packet.ackSequence === this.inFlight.sequence) this.acknowledge(packet.acceptedCount, (packet.control & SOL_OPERATION.nack) !== 0);
    if (packet.sequence !== 0) this.deliver(packet.sequence, packet.data);
    if (packet.control & SOL_OPERATION.flushOutbound) {
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.pump();
  }

  dispose(): void {
    this.release();
  }

  private release(): void {
    this.holder = undefined;
    this.stopTimer();
    this.inFlight = undefined;
    this.pending = [];
    this.pendingBytes = 0;
    this.options.host.off('serial', this.onSerial);
  }

  private send(packet: Parameters<typeof encodeSolPacket>[0]): void {
    if (this.holder?.kind === 'session') this.holder.owner.send(encodeSolPacket(packet));
  }

  private deliver(sequence: number, data: Uint8Array): void {
    if (sequence === this.lastInboundSequence) {
      // A retransmit, possibly with bytes appended: deliver only the new tail.
      if (data.length > this.lastInboundLength) this.options.host.type(data.subarray(this.lastInboundLength));
    } else {
      this.options.host.type(data);
    }
    this.lastInboundSequence = sequence;
    this.lastInboundLength = data.length;
    this.send({ sequence: 0, ackSequence: sequence, acceptedCount: data.length, control: 0, data: new Uint8Array() });
  }

  private acknowledge(accepted: number, nack: boolean): void {
    const packet = this.inFlight!;
    if (nack) return; // console busy: keep the packet, the retry timer resends it
    this.stopTimer();
    this.inFlight = undefined;
    if (accepted < packet.data.length) {
      // Partial ACK: the remainder goes first, under a new sequence.
      this.pending.unshift(packet.data.subarray(accepted));
      this.pendingBytes += packet.data.length - accepted;
    }
  }

  private queue(bytes: Uint8Array): void {
    if (this.pendingBytes + bytes.length > MAX_BUFFERED) {
      this.overrun = true; // the console reads too slowly: drop, and say so (§15.9 transmit overrun)
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.pump();
  }

  private pump(): void {
    if (this.inFlight || this.pendingBytes === 0 || this.holder?.kind !== 'session') return;
    const data = new Uint8Array(Math.min(this.options.maxData, this.pendingBytes));
    let filled = 0;
    while (filled < data.length) {
      const head = this.pending[0]!;
      const take = Math.min(head.length, data.length - filled);
      data.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(take);
    }
    this.pendingBytes -= data.length;
    this.outboundSequence = nextSolSequence(this.outboundSequence);
    this.inFlight = { sequence: this.outboundSequence, data, retries: 0 };
    this.transmit();
  }

  private transmit(): void {
    const packet = this.inFlight!;
    const control = this.overrun ? 0x08 : 0;
    this.overrun = false;
    this.send({ sequence: packet.sequence, ackSequence: 0, acceptedCount: 0, control, data: packet.data });
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.inFlight) return;
      if (++this.inFlight.retries > this.options.maxRetries) {
        this.inFlight = undefined; // give up on this packet, as BMCs do after their retry count
        this.pump();
        return;
      }
      this.transmit();
    }, this.options.retryMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
