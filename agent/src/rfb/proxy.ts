import { type Duplex } from 'node:stream';
import { LightsoutError } from '@lightsout/shared';
import { BmcHandshake, type BmcHandshakeResult, type RfbVersion } from '@lightsout/bmc-wire/rfb';
import { RfbClientStream } from './client-stream.js';
import { type BmcVncEndpoint, connectBmc, parseBmcVncUrl, type WebSocketOptions } from './transport.js';

export interface RfbProxyOptions {
  /** vnc://host:port, host:port, ws://… or wss://… */
  url: string;
  /** The BMC's VNC password; used only toward the BMC, never shown to the client. */
  password?: string;
  /** Aborts opening, and closes the proxy once open. */
  signal?: AbortSignal;
  /** Connect + BMC handshake must finish within this (default 15 s; x11vnc alone takes ~0.3 s to greet). */
  handshakeTimeoutMs?: number;
  webSocket?: WebSocketOptions;
}

export interface RfbProxy {
  /**
   * The client side: write what the VNC client sends, read what it must
   * receive. Speaks RFB 3.8 with security None, then is a transparent splice
   * to the BMC (ServerInit onward untouched). Pipe it with backpressure
   * (stream.pipeline, or write()/'drain' and pause()/resume()). It emits
   * 'error' (a LightsoutError) if the BMC connection fails mid-session.
   */
  readonly client: Duplex;
  /** The version the user's client negotiated, once its handshake is done. */
  readonly clientVersion: RfbVersion | undefined;
  readonly endpoint: BmcVncEndpoint;
  /** What was negotiated with the BMC. */
  readonly bmc: BmcHandshakeResult;
  /** Settles once both sides are closed: undefined for a clean close, else the error. */
  readonly closed: Promise<Error | undefined>;
  close(): void;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * Connects to the BMC's VNC server, authenticates as the agent (None or VNC
 * authentication with the password it holds), then returns the client side
 * for the user's VNC client (nova's RFBSecurityProxy does the same job).
 * Rejects with a LightsoutError: BMC_UNREACHABLE, BMC_TIMEOUT,
 * BMC_AUTH_FAILED (with the BMC's reason), BMC_UNSUPPORTED (no security type
 * we can do) or BMC_PROTOCOL_ERROR (malformed handshake); or with the
 * signal's reason when aborted.
 */
export async function openRfbProxy(options: RfbProxyOptions): Promise<RfbProxy> {
  const endpoint = parseBmcVncUrl(options.url);
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new LightsoutError('BMC_TIMEOUT', `RFB: no complete handshake from the BMC's VNC server within ${timeoutMs} ms`, { details: { url: endpoint.shown } })), timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  try {
    const bmc = await connectBmc(endpoint, signal, options.webSocket);
    const result = await runBmcHandshake(bmc, new BmcHandshake({ password: options.password }), signal);
    const client = new RfbClientStream(bmc, result.securityResult);
    const closed = new Promise<Error | undefined>((resolve) => client.once('close', () => resolve(client.errored ?? undefined)));
    const close = (): void => {
      client.destroy();
    };
    options.signal?.addEventListener('abort', close, { once: true });
    void closed.then(() => options.signal?.removeEventListener('abort', close));
    return {
      client,
      get clientVersion() {
        return client.clientVersion;
      },
      endpoint,
      bmc: result,
      closed,
      close,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Drives BmcHandshake over the stream; on any failure destroys the stream (one fail path). */
function runBmcHandshake(bmc: Duplex, handshake: BmcHandshake, signal: AbortSignal): Promise<BmcHandshakeResult> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      bmc.off('data', onData);
      bmc.off('end', onEnd);
      bmc.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (error: unknown): void => {
      cleanup();
      bmc.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      try {
        const step = handshake.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        for (const bytes of step.send) bmc.write(bytes);
        if (step.result) {
          bmc.pause();
          cleanup();
          resolve(step.result);
        }
      } catch (error) {
        fail(error);
      }
    };
    const onEnd = (): void => {
      fail(new LightsoutError('BMC_PROTOCOL_ERROR', `RFB: the BMC closed the connection during the handshake (state ${handshake.stateName})`, { details: { state: handshake.stateName } }));
    };
    const onError = (error: Error): void => {
      fail(new LightsoutError('BMC_UNREACHABLE', `RFB: the connection to the BMC failed during the handshake: ${error.message}`, { cause: error }));
    };
    const onAbort = (): void => fail(signal.reason);
    bmc.on('data', onData);
    bmc.once('end', onEnd);
    bmc.once('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
