import { LightsoutError } from '../errors.js';
import type { StreamEndpoint } from './endpoint.js';
import { ResumableEnd, type SetTimer } from './resumable.js';
import { decodeServerStreamMessage, encodeStreamMessage, type ClientStreamMessage, type StatusMessage } from './messages.js';
import { STREAM_BEARER_PROTOCOL_PREFIX, STREAM_SUBPROTOCOL, StreamCloseCode, StreamLimits, StreamTiming, isFinalCloseCode } from './session.js';

/** The WebSocket as the client sees it: `ws` in Node, the browser's WebSocket in the renderer (wrapped). */
export interface StreamSocket {
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}
export interface StreamSocketEvents {
  open(): void;
  message(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
}
export type StreamSocketFactory = (url: string, protocols: string[], events: StreamSocketEvents) => StreamSocket;

export type StreamClientState = 'connecting' | 'resuming' | 'streaming' | 'reconnecting' | 'closed';

/** The part of `fetch` a route question needs (Node's and the browser's both fit). */
export type FetchLike = (url: string, init: { headers: Record<string, string> }) => Promise<{ status: number; json(): Promise<unknown> }>;

/**
 * `locate` for a StreamClient: asks `routeUrl` (SessionCreated.routeUrl, any
 * replica of the deployment) where the session's agent is connected now.
 * Anything but a 200 with a ws(s) URL is "don't know" (undefined): the
 * client then resumes where it was.
 */
export function routeLocator(routeUrl: string, fetchImpl: FetchLike): (token: string) => Promise<string | undefined> {
  return async (token) => {
    const response = await fetchImpl(routeUrl, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    if (response.status !== 200) return undefined;
    const body = (await response.json()) as { streamUrl?: unknown } | null;
    const url = body?.streamUrl;
    return typeof url === 'string' && /^wss?:\/\//.test(url) ? url : undefined;
  };
}

export interface StreamClientOptions {
  streamUrl: string;
  token: string;
  socket: StreamSocketFactory;
  setTimer: SetTimer;
  onData(bytes: Uint8Array): void;
  onStatus?(status: StatusMessage): void;
  onState?(state: StreamClientState, detail?: string): void;
  /** The session is over: `final` when the far end ended it, false when resuming gave up. */
  onClose?(code: number, reason: string): void;
  /**
   * The far end's typed reason for the close that follows (an `error`
   * message: `BMC_BUSY` and the BMC's words), for showing the person what
   * went wrong and what to do, not only the close code.
   */
  onError?(code: string, message: string): void;
  /** The send window reopened after `write` returned false. */
  onDrain?(): void;
  /**
   * An interactive console: input written while the path to the BMC is not
   * up (reconnecting, or the relay said `path down`) is refused — reported
   * through onInputRefused, never queued to run later. Without it (bulk
   * transfers) bytes written while reconnecting go out after the resume.
   */
  refuseInputWhileDown?: boolean;
  /** Bytes of input that did not and will not reach the BMC: refused here, or dropped by the relay or the agent. */
  onInputRefused?(bytes: number): void;
  /** The relay said the path to the BMC went down or came back. */
  onPath?(up: boolean): void;
  /**
   * Where the session's agent is connected now: the stream URL of the gateway
   * holding it, asked of any replica with the latest stream token
   * (`routeLocator`). Asked before every reconnect, so a client whose gateway
   * died resumes at the one the agent failed over to. No answer within
   * `StreamTiming.locateTimeoutMs`, undefined or a failure: the last URL again.
   */
  locate?: (token: string) => Promise<string | undefined>;
  /** How long to keep trying to resume after a drop (default: the agent's grace period). */
  resumeForMs?: number;
  windowBytes?: number;
  random?: () => number;
}

/**
 * The client end of a console session: connects, resumes after any drop
 * within the grace period (client blip, agent leg drop, relay restart), and
 * never loses or repeats a byte. State machine:
 *
 *   connecting ─open→ resuming ─peer resume→ streaming
 *        ▲                 │ close (not final)        │ close (not final)
 *        └── timer, locate ── reconnecting ◀──────────┘
 *   any ─ final close / give up / close() → closed   (the one fail path: finish())
 *
 * `locate` (optional) follows the session across gateways: before each new
 * leg it asks where the session's agent is connected now.
 */
export class StreamClient {
  /** The resume and ack protocol (shared with the agent's end); `endpoint` is its bookkeeping. */
  private readonly stream: ResumableEnd;
  private readonly endpoint: StreamEndpoint;
  private readonly options: StreamClientOptions;
  private socket: StreamSocket | undefined;
  private currentState: StreamClientState = 'connecting';
  private token: string;
  /** Where the next leg connects: the session's gateway as last located. */
  private url: string;
  private droppedAt = 0;
  private attempt = 0;
  private cancelTimer: (() => void) | undefined;
  private blocked = false;
  /** What the relay last said about the path to the BMC; a new leg starts up. */
  private pathIsUp = true;
  /** Whether the current socket has opened (a close frame can be sent on it). */
  private socketOpen = false;
  /** `leave()` was called while the socket was connecting: close it as soon as it opens. */
  private leaveOnOpen = false;
  /** The route question out now, if any (one at a time per client). */
  private locating: Promise<string | undefined> | undefined;
  /** A route answer came after its attempt had gone ahead: the next attempt uses it without asking. */
  private lateAnswer = false;
  /** `leave()` waiting for a socket's close handshake. */
  private readonly closeWaiters = new Map<StreamSocket, () => void>();

  constructor(options: StreamClientOptions) {
    this.options = options;
    this.token = options.token;
    this.url = options.streamUrl;
    this.stream = new ResumableEnd(options.setTimer, options.windowBytes === undefined ? {} : { windowBytes: options.windowBytes });
    this.endpoint = this.stream.endpoint;
    this.open();
  }

  get state(): StreamClientState {
    return this.currentState;
  }
  /** The token the next leg presents: the latest resume token the relay pushed, else the connect token. */
  get currentToken(): string {
    return this.token;
  }
  /** The gateway URL the current (or next) leg uses. */
  get streamUrl(): string {
    return this.url;
  }
  get bytesReceived(): number {
    return this.endpoint.received;
  }
  get bytesSent(): number {
    return this.endpoint.sent;
  }
  /** Whether typed input reaches the BMC now: streaming, and the relay has not said the path is down. */
  get inputPathUp(): boolean {
    return this.currentState === 'streaming' && this.pathIsUp;
  }
  /** Whether `write` would be accepted within the window now. */
  get canWrite(): boolean {
    return this.endpoint.canSend;
  }

  /**
   * Queue bytes for the BMC. They are kept until acknowledged, so bytes written
   * while reconnecting go out after the resume — unless `refuseInputWhileDown`,
   * which refuses them (onInputRefused) instead. Returns false when the window
   * is full: stop writing until onDrain.
   */
  write(bytes: Uint8Array): boolean {
    if (this.currentState === 'closed') throw new LightsoutError('CONFLICT', 'the console session is closed');
    if (this.options.refuseInputWhileDown && !this.inputPathUp) {
      if (bytes.length > 0) this.options.onInputRefused?.(bytes.length);
      return this.endpoint.canSend;
    }
    for (let at = 0; at < bytes.length; at += StreamLimits.sendChunkBytes) {
      const chunk = bytes.subarray(at, Math.min(bytes.length, at + StreamLimits.sendChunkBytes));
      this.endpoint.recordSent(chunk);
      if (this.currentState === 'streaming') this.socket?.send(chunk);
    }
    if (!this.endpoint.canSend) this.blocked = true;
    return this.endpoint.canSend;
  }

  /**
   * The consumer of `onData` is backed up (a Node stream whose reader is
   * slow): acks are withheld, so the far end's window closes and what this
   * end holds stays within one window. Released, what is pending is acknowledged.
   */
  holdAcks(hold: boolean): void {
    this.stream.holdAcks(hold);
  }

  control(message: Exclude<ClientStreamMessage, { type: 'resume' | 'ack' }>): void {
    if (this.currentState === 'streaming') this.socket?.send(encodeStreamMessage(message));
  }

  close(): void {
    this.finish(1000, 'closed by user');
  }

  /**
   * The user leaves for good (`~.`): close with 1000 so the relay and the
   * agent end the session now, and resolve once the close handshake is done
   * (or after `timeoutMs`), so a process that exits next does not cut the
   * close frame off. A socket still connecting is closed as soon as it opens
   * (aborting the upgrade would tell the relay nothing).
   */
  leave(timeoutMs = 2000): Promise<void> {
    if (this.currentState === 'closed') return Promise.resolve();
    const socket = this.socket;
    return new Promise<void>((resolve) => {
      let cancel: (() => void) | undefined;
      const done = () => {
        cancel?.();
        if (socket !== undefined) this.closeWaiters.delete(socket);
        resolve();
      };
      cancel = this.options.setTimer(() => {
        cancel = undefined;
        this.finish(1000, 'left by user');
        done();
      }, timeoutMs);
      if (socket === undefined) {
        this.finish(1000, 'left by user');
        return done();
      }
      this.closeWaiters.set(socket, done);
      if (this.socketOpen) this.finish(1000, 'left by user');
      else this.leaveOnOpen = true;
    });
  }

  private setState(state: StreamClientState, detail?: string): void {
    this.currentState = state;
    this.options.onState?.(state, detail);
  }

  private open(): void {
    this.socketOpen = false;
    this.lateAnswer = false;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const protocols = [STREAM_SUBPROTOCOL, `${STREAM_BEARER_PROTOCOL_PREFIX}${this.token}`];
    let opened = false;
    const socket = this.options.socket(this.url, protocols, {
      open: () => {
        if (this.socket !== socket) return;
        opened = true;
        this.socketOpen = true;
        if (this.leaveOnOpen) return this.finish(1000, 'left by user');
        this.setState('resuming');
        this.stream.beginLeg({ sendText: (text) => socket.send(text), sendData: (chunk) => socket.send(chunk) });
      },
      message: (data) => {
        if (this.socket === socket) this.onMessage(data);
      },
      close: (code, reason) => {
        this.closeWaiters.get(socket)?.();
        if (this.socket !== socket) return;
        this.socketOpen = false;
        this.socket = undefined;
        this.stream.endLeg();
        if (this.currentState === 'closed') return;
        if (isFinalCloseCode(code) && opened) return this.finish(code, reason);
        // 401/403 before the upgrade arrive as a failed open: final too, unless it was a network error.
        if (!opened && (code === StreamCloseCode.UNAUTHENTICATED || code === StreamCloseCode.FORBIDDEN || code === StreamCloseCode.NOT_FOUND)) return this.finish(code, reason);
        // The user left while this leg was connecting: it failed, and there is nothing to resume for.
        if (this.leaveOnOpen) return this.finish(1000, 'left by user');
        this.scheduleReconnect(code, reason);
      },
    });
    this.socket = socket;
  }

  private scheduleReconnect(code: number, reason: string): void {
    if (this.droppedAt === 0) this.droppedAt = Date.now();
    const limit = this.options.resumeForMs ?? StreamTiming.graceMs;
    if (Date.now() - this.droppedAt > limit) return this.finish(code, `could not resume within ${limit} ms: ${reason}`);
    this.attempt += 1;
    const base = Math.min(2000, 100 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = base / 2 + (this.options.random ?? Math.random)() * (base / 2);
    this.setState('reconnecting', reason || `code ${code}`);
    this.cancelTimer = this.options.setTimer(() => {
      this.cancelTimer = undefined;
      if (this.currentState !== 'closed') this.locateThenOpen();
    }, delay);
  }

  /**
   * Ask where the session's agent is now, then open the next leg there. The
   * wait is bounded: a replica that does not answer must not hold the resume
   * past the grace period, so after locateTimeoutMs the leg opens at the URL
   * it had (a dead gateway then fails fast). The question itself is not
   * abandoned: at most one is out per client, the next attempt waits for it
   * rather than asking again, and an answer that comes late is where the
   * next leg goes. Under load a replica answering slower than the timeout
   * would otherwise get a new question from every client on every attempt,
   * each abandoned one still costing it its work, until it answers none in
   * time (200 consoles failing over at once never resumed that way).
   */
  private locateThenOpen(): void {
    const { locate } = this.options;
    if (locate === undefined) return this.open();
    // A late answer arrived since the last leg opened: it is fresh, go there.
    if (this.lateAnswer) {
      this.lateAnswer = false;
      return this.open();
    }
    let settled = false;
    const proceed = (url: string | undefined) => {
      if (settled) return;
      settled = true;
      cancelDeadline();
      this.cancelTimer = undefined;
      if (url !== undefined) this.url = url;
      if (this.currentState !== 'closed') this.open();
    };
    const cancelDeadline = this.options.setTimer(() => proceed(undefined), StreamTiming.locateTimeoutMs);
    this.cancelTimer = () => {
      settled = true;
      cancelDeadline();
    };
    if (this.locating === undefined) {
      const asking: Promise<string | undefined> = locate(this.token).then(
        (url) => url,
        () => undefined,
      );
      this.locating = asking;
      // Runs before any waiting attempt's proceed (registered first): an attempt still waiting opens a leg
      // there and clears the mark; otherwise the answer waits for the next attempt.
      void asking.then((url) => {
        this.locating = undefined;
        if (url !== undefined && this.currentState !== 'closed' && this.currentState !== 'streaming') {
          this.url = url;
          this.lateAnswer = true;
        }
      });
    }
    this.locating.then(proceed, () => proceed(undefined));
  }

  private onMessage(data: string | Uint8Array): void {
    if (typeof data !== 'string') {
      if (this.currentState !== 'streaming') return this.fail('MALFORMED_MESSAGE', 'data before resume');
      this.stream.received(data.length);
      this.options.onData(data);
      return;
    }
    let message;
    try {
      message = decodeServerStreamMessage(data);
    } catch (error) {
      return this.fail('MALFORMED_MESSAGE', error instanceof Error ? error.message : 'bad control message');
    }
    switch (message.type) {
      case 'resume': {
        try {
          this.stream.resumeFrom(message.offset);
        } catch (error) {
          return this.finish(StreamCloseCode.ENDED, error instanceof Error ? error.message : 'cannot resume');
        }
        this.droppedAt = 0;
        this.attempt = 0;
        this.setState('streaming');
        this.setPath(true);
        this.releaseIfDrained();
        return;
      }
      case 'ack':
        this.endpoint.onPeerAck(message.offset);
        this.releaseIfDrained();
        return;
      case 'token':
        this.token = message.token;
        return;
      case 'status':
        this.options.onStatus?.(message);
        return;
      case 'path':
        this.setPath(message.state === 'up');
        return;
      case 'dropped':
        this.options.onInputRefused?.(message.bytes);
        return;
      case 'error':
        // The close frame that follows decides whether to resume.
        this.options.onError?.(message.code, message.message);
        return;
    }
  }

  private setPath(up: boolean): void {
    if (this.pathIsUp === up) return;
    this.pathIsUp = up;
    this.options.onPath?.(up);
  }

  private releaseIfDrained(): void {
    if (this.blocked && this.endpoint.canSend) {
      this.blocked = false;
      this.options.onDrain?.();
    }
  }

  private fail(code: string, message: string): void {
    this.finish(StreamCloseCode.MALFORMED_MESSAGE, `${code}: ${message}`);
  }

  private finish(code: number, reason: string): void {
    if (this.currentState === 'closed') return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.stream.endLeg();
    const socket = this.socket;
    this.socket = undefined;
    this.setState('closed', reason);
    socket?.close(code === StreamCloseCode.MALFORMED_MESSAGE ? StreamCloseCode.MALFORMED_MESSAGE : 1000, reason.slice(0, 120));
    this.options.onClose?.(code, reason);
  }
}
