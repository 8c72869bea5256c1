import {
  type ErrorCode,
  LightsoutError,
  type ReadGate,
  StreamCloseCode,
  ResumableEnd,
  type SetTimer,
  type StreamEndpoint,
  StreamLimits,
  decodeAgentBoundStreamMessage,
  encodeStreamMessage,
  type StatusMessage,
  type StreamMode,
  type StreamOpenParams,
} from '@lightsout/shared';
import type { Logger } from 'pino';
import WebSocket, { type RawData } from 'ws';
import type { ConsoleGroup, GroupMember } from './console-group.js';
import { agentTurns } from './turns.js';

/** A console group hands one status object to many members (console-group.ts): encode it once. */
const encodedStatuses = new WeakMap<StatusMessage, Buffer>();
function encodedStatus(status: StatusMessage): Buffer {
  let bytes = encodedStatuses.get(status);
  if (bytes === undefined) encodedStatuses.set(status, (bytes = Buffer.from(encodeStreamMessage(status))));
  return bytes;
}

/**
 * How far past its window a client's input may go before it counts as
 * ignoring the window: a client that stops when `write()` says so still
 * sends the write that filled it (a socket read, an SSH packet), which is
 * under one frame's limit.
 */
const inputSlackBytes = StreamLimits.maxDataFrameBytes;

/** What a session keeps of the relay's stream.open: who opened which console of which server. */
export type SessionInfo = Pick<StreamOpenParams, 'sessionId' | 'serverId' | 'tenant' | 'kind' | 'mode' | 'subject' | 'user'>;

const setTimer: SetTimer = (callback, ms) => {
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
};

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * The agent's end of one console session. It outlives its data connections
 * (legs): when a leg drops it waits `graceMs` for the client to resume
 * through a new one, holding the bytes the client has not acknowledged
 * (StreamEndpoint) while the BMC side stays open.
 *
 *   attached ─leg closes (not 1000)→ detached ─new leg→ attached
 *   attached/detached ─ leg closes 1000 / grace over / BMC gone / overflow → ended   (end(): the one exit)
 */
export class StreamSession implements GroupMember {
  /** The resume and ack protocol (shared with the client's end); `endpoint` is its bookkeeping. */
  private readonly stream: ResumableEnd;
  private readonly endpoint: StreamEndpoint;
  private readonly windowBytes: number;
  private leg: WebSocket | undefined;
  /** Reads the leg a quantum per event-loop turn, so one bulk upload does not hold up the other sessions. */
  private legGate: ReadGate | undefined;
  private streaming = false;
  private state: 'attached' | 'detached' | 'ended' = 'detached';
  private graceTimer: NodeJS.Timeout | undefined;
  /** Input taken while the BMC side is backed up (acks withheld), over every leg; undefined while it is not. */
  private heldInputBytes: number | undefined;
  group: ConsoleGroup | undefined;

  constructor(
    readonly info: SessionInfo,
    private readonly options: { graceMs: number; logger: Logger; onEnd(session: StreamSession): void; windowBytes?: number; stall?: { inputIsStale(): boolean } },
  ) {
    this.windowBytes = options.windowBytes ?? StreamLimits.windowBytes;
    this.stream = new ResumableEnd(setTimer, { windowBytes: this.windowBytes });
    this.endpoint = this.stream.endpoint;
    this.startGrace();
  }

  get user(): string {
    return this.info.user;
  }
  get subject(): string {
    return this.info.subject;
  }
  get requestedMode(): StreamMode {
    return this.info.mode;
  }
  get attached(): boolean {
    return this.state === 'attached';
  }
  get canTake(): boolean {
    return this.endpoint.canSend;
  }
  get overflowed(): boolean {
    return this.endpoint.unacknowledged > 2 * this.windowBytes;
  }
  get isEnded(): boolean {
    return this.state === 'ended';
  }

  /** A new leg (data connection) for this session; replaces any previous one. */
  attach(socket: WebSocket): void {
    if (this.state === 'ended') {
      socket.close(StreamCloseCode.ENDED, 'session ended');
      return;
    }
    const previous = this.leg;
    this.legGate?.stop();
    this.legGate = agentTurns.gate(socket);
    this.leg = socket;
    this.streaming = false;
    this.state = 'attached';
    this.clearGrace();
    if (previous) previous.close(StreamCloseCode.REPLACED, 'replaced by a newer connection');
    socket.on('message', (data, isBinary) => {
      if (this.leg === socket) this.onLegMessage(asBuffer(data), isBinary);
    });
    socket.once('close', (code) => {
      if (this.leg !== socket) return;
      if (code === 1000) this.end(1000, 'client left');
      else this.detach();
    });
    socket.on('error', (error) => this.options.logger.debug({ err: error, sessionId: this.info.sessionId }, 'stream leg error'));
    const send = (data: string | Uint8Array) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
    };
    this.stream.beginLeg({ sendText: send, sendData: send });
  }

  private onLegMessage(bytes: Buffer, isBinary: boolean): void {
    if (isBinary) {
      if (!this.streaming) return this.dropLeg(StreamCloseCode.MALFORMED_MESSAGE, 'data before resume');
      this.legGate?.consumed(bytes.length);
      if (!this.inputFits(bytes.length)) return;
      // Typed while this process stood still: counted (offsets stay aligned), never written to the BMC, and the client is told.
      if (this.options.stall?.inputIsStale()) return this.discardInput(bytes.length);
      this.stream.received(bytes.length);
      this.group?.input(this, bytes);
      return;
    }
    let message;
    try {
      message = decodeAgentBoundStreamMessage(bytes.toString('utf8'));
    } catch (error) {
      return this.dropLeg(StreamCloseCode.MALFORMED_MESSAGE, error instanceof LightsoutError ? error.message : 'bad message');
    }
    switch (message.type) {
      case 'resume': {
        try {
          this.stream.resumeFrom(message.offset);
        } catch (error) {
          return this.end(StreamCloseCode.ENDED, error instanceof Error ? error.message : 'cannot resume');
        }
        this.streaming = true;
        this.group?.reviewFlow();
        this.group?.broadcast('attached', this.info.user);
        return;
      }
      case 'ack':
        try {
          if (this.endpoint.onPeerAck(message.offset)) this.group?.reviewFlow();
        } catch {
          this.dropLeg(StreamCloseCode.MALFORMED_MESSAGE, 'ack beyond what was sent');
        }
        return;
      case 'break':
        this.group?.sendBreak(this);
        return;
      case 'take-over':
        this.group?.takeOver(this);
        return;
      case 'resize':
        // Serial has no window size to pass on; VNC resizes through RFB itself.
        return;
      case 'dropped': {
        // The relay dropped client input here while our path was down (the client knows): count it, like the relay did.
        this.stream.received(message.bytes);
        return;
      }
    }
  }

  /**
   * The client may have `windowBytes` of input unacknowledged, and while the
   * BMC side buffers no ack goes out (holdInput), so an honest client stops
   * there. Input past it would only pile up in this process — one client
   * could run the agent out of memory — so it ends the session instead. A
   * new leg's `resume` acknowledges everything received, which the client
   * takes as a fresh window: while the BMC side stays backed up, what the
   * session takes over all its legs is bounded too (two windows: one
   * reconnect's worth).
   */
  private inputFits(length: number): boolean {
    if (this.heldInputBytes !== undefined) this.heldInputBytes += length;
    const inFlight = this.endpoint.receivedUnacknowledged + length;
    if (inFlight <= this.windowBytes + inputSlackBytes && (this.heldInputBytes ?? 0) <= 2 * this.windowBytes) return true;
    this.options.logger.warn(
      { sessionId: this.info.sessionId, serverId: this.info.serverId, user: this.info.user, inFlight, heldInputBytes: this.heldInputBytes, windowBytes: this.windowBytes },
      'console input past the stream window: the client ignored flow control, session ended',
    );
    this.end(StreamCloseCode.ENDED, `input past the stream window of ${this.windowBytes} bytes`, 'MALFORMED_MESSAGE');
    return false;
  }

  private discardInput(length: number): void {
    if (this.leg?.readyState === WebSocket.OPEN) this.leg.send(encodeStreamMessage({ type: 'dropped', bytes: length }));
    this.stream.received(length);
  }

  /** BMC output for this member. */
  deliver(bytes: Uint8Array): void {
    if (this.state === 'ended') return;
    this.endpoint.recordSent(bytes);
    if (this.streaming && this.leg?.readyState === WebSocket.OPEN) this.leg.send(bytes);
  }

  sendStatus(status: StatusMessage): void {
    if (this.streaming && this.leg?.readyState === WebSocket.OPEN) this.leg.send(encodedStatus(status), { binary: false });
  }

  /** The BMC side is backed up: withhold acks so the client's window closes (the leg keeps being read, acks and all). */
  holdInput(hold: boolean): void {
    if (!hold) this.heldInputBytes = undefined;
    else this.heldInputBytes ??= 0;
    this.stream.holdAcks(hold);
  }

  /** Cut the data connection abruptly (a network failure as the client sees it); the session waits for a resume. */
  severLeg(): void {
    const leg = this.leg;
    if (!leg) return;
    this.detach();
    leg.terminate();
  }

  /** The leg misbehaved: close it, keep the session for a proper resume. */
  private dropLeg(code: number, reason: string): void {
    const leg = this.leg;
    leg?.send(encodeStreamMessage({ type: 'error', code: 'MALFORMED_MESSAGE', message: reason.slice(0, 500) }));
    leg?.close(code, reason.slice(0, 100));
    this.detach();
  }

  private detach(): void {
    if (this.state === 'ended') return;
    this.legGate?.stop();
    this.legGate = undefined;
    this.leg = undefined;
    this.streaming = false;
    this.state = 'detached';
    this.stream.endLeg();
    this.startGrace();
    this.group?.reviewFlow();
    this.group?.broadcast();
  }

  private startGrace(): void {
    this.clearGrace();
    this.graceTimer = setTimeout(() => this.end(StreamCloseCode.ENDED, 'grace period over'), this.options.graceMs);
  }

  private clearGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }

  /** `errorCode`: what the client is told (the `error` message before the close) ended the session. */
  end(code: number, reason: string, errorCode: ErrorCode = 'CONFLICT'): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.clearGrace();
    this.stream.endLeg();
    const leg = this.leg;
    this.leg = undefined;
    this.legGate?.stop();
    this.legGate = undefined;
    if (leg && leg.readyState === WebSocket.OPEN) {
      leg.send(encodeStreamMessage({ type: 'error', code: errorCode, message: `session ended: ${reason}`.slice(0, 500) }));
      leg.close(code === 1000 ? 1000 : StreamCloseCode.ENDED, reason.slice(0, 100));
    } else leg?.terminate();
    this.group?.leave(this);
    this.group = undefined;
    // Ended for something the client sent (errorCode other than CONFLICT): worth an operator's look.
    this.options.logger[errorCode === 'CONFLICT' ? 'info' : 'warn']({ sessionId: this.info.sessionId, serverId: this.info.serverId, reason, errorCode }, 'console session ended');
    this.options.onEnd(this);
  }
}
