import { Duplex } from 'node:stream';
import { LightsoutError, type SetTimer, StreamClient, StreamCloseCode, type StreamSocketFactory, isErrorCode } from '@lightsout/shared';

export interface StreamDuplexOptions {
  streamUrl: string;
  token: string;
  socket: StreamSocketFactory;
  setTimer: SetTimer;
}

/**
 * One stream of kind `web` as a Node socket, for the HTTP client that
 * carries the browser's requests to the BMC (Node's http.Agent takes any
 * Duplex from `createConnection`). The stream plane under it resumes across
 * a dropped leg or a relay restart like any console, so a connection to the
 * BMC outlives both; bytes are handed on as they come, never gathered.
 *
 *   opening ─first resume→ open ─far end ended (BMC closed: 4410)→ ended (EOF)
 *      │ refused, unreachable, revoked: an error before or after
 *      └──────────────────────────────────────→ destroyed (error)
 */
export class StreamDuplex extends Duplex {
  private readonly client: StreamClient;
  private streamed = false;
  private pendingWrite: (() => void) | undefined;
  private farEnded = false;
  /** The far end's typed reason for the close that follows (`error` message). */
  private refusal: LightsoutError | undefined;

  constructor(options: StreamDuplexOptions) {
    super({ allowHalfOpen: false });
    this.client = new StreamClient({
      streamUrl: options.streamUrl,
      token: options.token,
      socket: options.socket,
      setTimer: options.setTimer,
      // A browser that reads slowly closes the agent's window (acks withheld) instead of growing this buffer.
      onData: (bytes) => {
        if (!this.push(bytes)) this.client.holdAcks(true);
      },
      onDrain: () => this.releaseWrite(),
      onError: (code, message) => {
        if (isErrorCode(code)) this.refusal = new LightsoutError(code, message);
      },
      onState: (state, detail) => {
        if (state === 'streaming' && !this.streamed) {
          this.streamed = true;
          this.emit('connect');
        }
        // Before the first byte, a typed refusal (agent offline, BMC unreachable, certificate changed) is the answer.
        if (state === 'reconnecting' && !this.streamed && detail !== undefined && isErrorCode(detail)) {
          this.client.close();
          this.destroy(this.refusal ?? new LightsoutError(detail, `the BMC's web UI could not be reached: ${detail}`));
        }
      },
      onClose: (code, reason) => {
        this.farEnded = true;
        if (code === StreamCloseCode.ENDED && this.streamed) {
          // The BMC closed its connection: what it sent is all there is.
          this.push(null);
          return;
        }
        if (!this.destroyed) this.destroy(this.refusal ?? new LightsoutError(code === StreamCloseCode.FORBIDDEN ? 'FORBIDDEN' : 'BMC_UNREACHABLE', `web UI stream closed (${code}${reason ? `: ${reason}` : ''})`));
      },
    });
  }

  override _read(): void {
    // The reader wants more: acknowledge what it took, and the agent sends on.
    this.client.holdAcks(false);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.farEnded) return callback(new LightsoutError('BMC_UNREACHABLE', 'the web UI stream has ended'));
    if (this.client.write(chunk)) return callback();
    this.pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    // HTTP/1.1 has no use for a half-close here; the stream ends when either side is done.
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.releaseWrite();
    if (!this.farEnded) void this.client.leave();
    callback(error);
  }

  private releaseWrite(): void {
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.();
  }

  // What Node's http.Agent and ClientRequest call on a net.Socket; a stream has no such knobs.
  setKeepAlive(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
