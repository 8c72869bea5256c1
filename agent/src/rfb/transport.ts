import type { Agent as HttpAgent } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { LightsoutError } from '@lightsout/shared';
import { withoutUserInfo } from '../inventory.js';
import { createWebSocketStream, WebSocket } from 'ws';

/** Where the BMC's VNC server is and how to reach it. */
export interface BmcVncEndpoint {
  transport: 'tcp' | 'websocket';
  /** Host and port for TCP; the full ws:// or wss:// URL for WebSocket. */
  host: string;
  port: number;
  url: string;
  /** `url` without its user info (`ws://user:pw@…` logs in with Basic auth): what messages, details and logs say. */
  shown: string;
}

export interface WebSocketOptions {
  /** Subprotocols to offer; default ["binary"] (websockify, noVNC). */
  protocols?: string[];
  /** Extra request headers, e.g. OpenBMC's X-Auth-Token or a session cookie. */
  headers?: Record<string, string>;
  /** TLS for wss://: BMCs often have self-signed certificates; pin them with `ca` rather than turning checks off. */
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
  /** Opens the TLS connections itself: the agent's trust policy for this BMC (pinned, CA or trust on first use). */
  agent?: HttpAgent;
}

const DEFAULT_VNC_PORT = 5900;

/**
 * The scheme picks the transport: `vnc://host:port` or plain `host:port` →
 * TCP; `ws://` / `wss://` → RFB carried in binary WebSocket messages.
 */
export function parseBmcVncUrl(url: string): BmcVncEndpoint {
  const invalid = (why: string): LightsoutError => new LightsoutError('CONFIG_INVALID', `invalid VNC endpoint "${withoutUserInfo(url)}": ${why}`, { hint: 'Use vnc://host:port, host:port, ws://host/path or wss://host/path.' });
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `vnc://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw invalid('not a URL');
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalid('no host');
  switch (parsed.protocol) {
    case 'vnc:':
      if (parsed.pathname !== '' && parsed.pathname !== '/') throw invalid('a vnc:// endpoint has no path');
      return { transport: 'tcp', host, port: parsed.port === '' ? DEFAULT_VNC_PORT : Number(parsed.port), url: withScheme, shown: withoutUserInfo(withScheme) };
    case 'ws:':
    case 'wss:':
      return { transport: 'websocket', host, port: parsed.port === '' ? (parsed.protocol === 'ws:' ? 80 : 443) : Number(parsed.port), url: parsed.href, shown: withoutUserInfo(parsed.href) };
    default:
      throw invalid(`unsupported scheme ${parsed.protocol}`);
  }
}

/**
 * Opens the byte stream to the BMC. Both transports give a Node Duplex with
 * backpressure (ws's stream pauses the socket when the reader is slow).
 * Rejects with BMC_UNREACHABLE; `signal` aborts the attempt.
 */
export async function connectBmc(endpoint: BmcVncEndpoint, signal: AbortSignal, webSocket: WebSocketOptions = {}): Promise<Duplex> {
  signal.throwIfAborted();
  if (endpoint.transport === 'tcp') return connectTcpSocket(endpoint, signal);
  const protocols = webSocket.protocols ?? ['binary'];
  try {
    return await connectWebSocket(endpoint, signal, webSocket, protocols);
  } catch (error) {
    // Some servers (e.g. BMC KVM endpoints) accept the upgrade but pick no
    // subprotocol, which ws treats as fatal: retry once without offering one.
    if (protocols.length > 0 && webSocket.protocols === undefined && error instanceof LightsoutError && error.details?.['noSubprotocol'] === true) {
      return connectWebSocket(endpoint, signal, webSocket, []);
    }
    throw error;
  }
}

function connectTcpSocket(endpoint: BmcVncEndpoint, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (error: Error): void => {
      signal.removeEventListener('abort', onAbort);
      reject(new LightsoutError('BMC_UNREACHABLE', `cannot connect to the BMC's VNC server at ${endpoint.host}:${endpoint.port}: ${error.message}`, { cause: error, details: { url: endpoint.shown } }));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function connectWebSocket(endpoint: BmcVncEndpoint, signal: AbortSignal, options: WebSocketOptions, protocols: string[]): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(endpoint.url, protocols, {
      headers: options.headers,
      ...(options.agent ? { agent: options.agent } : {}),
      ca: options.ca,
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      perMessageDeflate: false,
      // RFB chunks are small; a BMC sending a huge message is refused rather than buffered.
      maxPayload: 16 * 1024 * 1024,
    });
    socket.binaryType = 'nodebuffer';
    const fail = (error: LightsoutError): void => {
      signal.removeEventListener('abort', onAbort);
      socket.terminate();
      reject(error);
    };
    const onAbort = (): void => {
      socket.terminate();
      reject(signal.reason);
    };
    socket.once('unexpected-response', (_request, response) => {
      fail(new LightsoutError('BMC_UNREACHABLE', `the BMC's VNC WebSocket ${endpoint.shown} answered HTTP ${response.statusCode}`, { details: { url: endpoint.shown, status: response.statusCode } }));
    });
    socket.once('error', (error) => {
      const noSubprotocol = /no subprotocol/i.test(error.message);
      fail(new LightsoutError('BMC_UNREACHABLE', `cannot open the BMC's VNC WebSocket ${endpoint.shown}: ${error.message}`, { cause: error, details: { url: endpoint.shown, noSubprotocol } }));
    });
    socket.once('open', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.removeAllListeners('unexpected-response');
      resolve(createWebSocketStream(socket));
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
