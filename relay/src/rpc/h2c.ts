import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { NewConnectionQueue } from '../http/new-connections.js';

/** RFC 9113 §3.4: what a client speaking HTTP/2 with prior knowledge sends first. */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Fastify's request handler; it serves HTTP/2's compatibility API objects as HTTP/1's (as with Fastify's own http2 mode). */
type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * How long a closing relay lets what is in flight finish — HTTP/2 calls
 * after its GOAWAY (RFC 9113 §6.8), HTTP/1.1 requests, upgraded WebSockets
 * its plugins did not end — before it ends their connections.
 */
const CLOSE_GRACE_MS = 2000;
/** An HTTP/2 session with no stream open this long is sent a GOAWAY (closeWhenIdle). */
const H2_IDLE_MS = 120_000;

/**
 * One listening port for HTTP/1.1 and cleartext HTTP/2 (prior knowledge,
 * RFC 9113 §3.3). gRPC needs HTTP/2; the browsers, the WebSockets (agents,
 * consoles, the event feed) and every other client speak HTTP/1.1, and a
 * TLS-terminating proxy in front speaks whichever it was configured for. A
 * server created with Fastify's `http2: true` without TLS speaks only
 * HTTP/2, and Node's `allowHTTP1` exists only with TLS (ALPN), so each
 * connection's first bytes choose: the HTTP/2 preface goes to an HTTP/2
 * server, anything else to the HTTP/1.1 one. Both call the same Fastify
 * handler. Returns the HTTP/1.1 server, which owns the port (Fastify
 * listens and closes it; upgrade events reach @fastify/websocket), with
 * the HTTP/2 sessions ended when it closes. With `newConnections`, a new
 * connection's first bytes wait their turn there (http/new-connections.ts).
 */
export function createDualProtocolServer(handler: Handler, newConnections?: NewConnectionQueue, closeGraceMs = CLOSE_GRACE_MS, h2IdleMs = H2_IDLE_MS): http.Server {
  const h1 = http.createServer(handler);
  const h2 = http2.createServer({}, handler as unknown as (request: Http2ServerRequest, response: Http2ServerResponse) => void);
  const sessions = new Set<Http2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    closeWhenIdle(session, () => h2IdleMs);
  });
  h2.on('stream', (stream) => limitRequestTime(stream, h1.requestTimeout));
  const h1Connection = h1.listeners('connection') as Array<(socket: Socket) => void>;
  h1.removeAllListeners('connection');
  // Every connection the port accepted, whoever serves it: a close ends those still open after the grace.
  const accepted = new Set<Socket>();
  const undecided = new Set<Socket>();
  let closing = false;
  h1.on('connection', (socket: Socket) => {
    accepted.add(socket);
    undecided.add(socket);
    // Node's HTTP/1.1 parser, which starts at the connection, cuts one that never completes its headers; ours starts
    // only once the first bytes chose it, so a connection that says nothing (or half the preface) is cut here.
    const silence = h1.headersTimeout > 0 ? setTimeout(() => socket.destroy(), h1.headersTimeout).unref() : undefined;
    socket.once('close', () => {
      clearTimeout(silence);
      accepted.delete(socket);
      undecided.delete(socket);
    });
    let seen = Buffer.alloc(0);
    const choose = (chunk: Buffer) => {
      // Its first bytes waited their turn while the server began to close: nobody will serve it.
      if (closing) return socket.destroy();
      seen = Buffer.concat([seen, chunk]);
      const prefix = seen.subarray(0, HTTP2_PREFACE.length);
      // Undecided while what came so far is a prefix of the preface (a client may send it in pieces).
      if (seen.length < HTTP2_PREFACE.length && HTTP2_PREFACE.subarray(0, seen.length).equals(prefix)) {
        socket.once('data', choose);
        // Paused while its first bytes waited in the queue.
        socket.resume();
        return;
      }
      undecided.delete(socket);
      clearTimeout(silence);
      socket.removeAllListeners('error');
      socket.pause();
      socket.unshift(seen);
      if (prefix.equals(HTTP2_PREFACE)) {
        // The HTTP/2 session reads what is buffered itself, on the next tick; resuming here would spill it to no one.
        h2.emit('connection', socket);
      } else {
        for (const listener of h1Connection) listener.call(h1, socket);
        // The HTTP/1.1 parser reads the buffered bytes as 'data' once the socket flows again.
        socket.resume();
      }
    };
    // A connection that fails before saying anything was never anyone's.
    socket.once('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      if (newConnections === undefined) return choose(chunk);
      const ranNow = newConnections.run(socket.remoteAddress ?? 'unknown', () => {
        if (!socket.destroyed) choose(chunk);
      });
      // No more 'data' until its turn: a flowing socket without a listener would drop what comes next.
      if (!ranNow) socket.pause();
    });
  });
  // Fastify's close waits for the port to be released, which waits for every accepted connection to end.
  // A graceful GOAWAY and Fastify's own ending of idle connections and its WebSockets let what is in flight
  // finish; what is still open after the grace would hold the close forever and is ended: a session whose
  // client keeps a stream open after the GOAWAY (a cancelled call whose RST never came), a request still
  // being answered, a WebSocket whose upgrade completed after the plugins had closed theirs, a connection
  // that never said anything.
  const close = h1.close.bind(h1);
  h1.close = ((callback?: (error?: Error) => void) => {
    closing = true;
    for (const socket of undecided) socket.destroy();
    for (const session of sessions) session.close();
    const force = setTimeout(() => {
      for (const session of sessions) session.destroy();
      for (const socket of accepted) socket.destroy();
    }, closeGraceMs).unref();
    return close((error?: Error) => {
      clearTimeout(force);
      callback?.(error);
    });
  }) as typeof h1.close;
  return h1;
}

/**
 * A session with no stream open for `h2IdleMs` is sent a GOAWAY (RFC 9113
 * §6.8), as Go's HTTP/2 server applies its `IdleTimeout`. A stream open,
 * however quiet (a WatchServers call with nothing to say), is not idle; 0
 * keeps sessions. Longer than HTTP/1.1's 5 s keep-alive: a gRPC client
 * keeps its channel between calls, and one GOAWAY every few seconds would
 * make each call set up a connection again.
 */
function closeWhenIdle(session: Http2Session, idleMs: () => number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const idle = () => {
    const ms = idleMs();
    if (ms > 0) timer = setTimeout(() => session.close(), ms).unref();
  };
  session.on('stream', (stream: ServerHttp2Stream) => {
    open += 1;
    clearTimeout(timer);
    stream.once('close', () => {
      open -= 1;
      if (open === 0 && !session.closed && !session.destroyed) idle();
    });
  });
  session.once('close', () => clearTimeout(timer));
  idle();
}

/**
 * HTTP/1.1's `requestTimeout` for HTTP/2: a request must arrive whole (its
 * END_STREAM) within that long of its headers, or it is answered 408 (as
 * Node answers on HTTP/1.1) and its stream reset — NO_ERROR after a
 * complete answer, which asks the client to stop sending (RFC 9113 §8.1),
 * CANCEL when an answer was under way. Without it a body sent a byte at a
 * time (a tus PATCH, say) would hold its stream and what serves it for
 * ever. Only the request is bounded: an answer may stream as long as it
 * likes (WatchServers), as on HTTP/1.1. 0 sets no bound, as there.
 */
function limitRequestTime(stream: ServerHttp2Stream, limitMs: number): void {
  if (limitMs <= 0 || stream.endAfterHeaders) return;
  const timer = setTimeout(() => {
    const state = stream.state.state;
    if (stream.destroyed || state === http2.constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE || state === http2.constants.NGHTTP2_STREAM_STATE_CLOSED) return;
    const answered = !stream.headersSent || stream.writableEnded;
    if (!stream.headersSent) stream.respond({ ':status': 408 }, { endStream: true });
    stream.close(answered ? http2.constants.NGHTTP2_NO_ERROR : http2.constants.NGHTTP2_CANCEL);
  }, limitMs).unref();
  stream.once('close', () => clearTimeout(timer));
}
