import { LightsoutError, StreamLimits } from '@lightsout/shared';
import WebSocket from 'ws';
import type { pinnedLookup } from '../control/relay-endpoints.js';

/**
 * How many stream dial-backs this agent lets be in their handshake at once.
 *
 * When a gateway dies, every console it carried resumes at another gateway
 * within seconds, and each resume is a dial-back: a TCP connection, an HTTP
 * upgrade with a fresh agent token, `ws`'s set-up. With 1,000 consoles all
 * of them were in flight together, slowed by one another on the same cores,
 * long enough for their objects to reach V8's old generation and for their
 * socket buffers to fragment malloc's arenas, and each failover raised the
 * agent's RSS for good. Taken 32 at a time, four failovers of 1,000
 * consoles moved it by 1–2 MiB, and the consoles streamed again as soon as
 * before: the handshakes are CPU work on the same cores either way
 * (docs/benchmarks.md, soak, "Dial-backs taken in turn"). The stream plane
 * (extension.ts) gives them out through `Slots`.
 */
export const DIAL_BACK_CONCURRENCY = 32;

/** `http://relay:8080` + `/v1/agent/streams/…` → `ws://relay:8080/v1/agent/streams/…` */
export function dialUrlOf(relay: string, dialPath: string): string {
  if (!dialPath.startsWith('/v1/agent/streams/')) throw new LightsoutError('BAD_REQUEST', 'dial-back path outside /v1/agent/streams/');
  const url = new URL(dialPath, `${relay}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * Open the dedicated data connection for one leg of a session, outbound like
 * the control connection and authenticated the same way (a fresh agent JWT),
 * so no stream shares a socket with another and a busy VNC stream cannot
 * stall a keystroke elsewhere.
 */
export function dialBack(url: string, token: string, options: { timeoutMs?: number; lookup?: ReturnType<typeof pinnedLookup> } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: options.timeoutMs ?? 10_000,
      maxPayload: StreamLimits.maxDataFrameBytes + 1024,
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    });
    let failure: LightsoutError | undefined;
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : 'AGENT_TIMEOUT';
      failure = new LightsoutError(code, `relay refused the stream dial-back (HTTP ${status})`);
      response.resume();
      socket.terminate();
    });
    const onError = (error: Error) => {
      failure ??= new LightsoutError('AGENT_TIMEOUT', `stream dial-back failed: ${error.message}`);
    };
    socket.on('error', onError);
    socket.once('open', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    socket.once('close', () => reject(failure ?? new LightsoutError('AGENT_TIMEOUT', 'stream dial-back closed before it opened')));
  });
}
