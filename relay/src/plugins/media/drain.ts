import type { IncomingMessage } from 'node:http';

/**
 * What to do with the rest of a request body once the answer has been sent
 * (a refused tus PATCH, or one that stopped early): read it and drop it, up
 * to a bound, then close.
 *
 * Closing at once is what loses the answer: the client is still writing
 * megabytes, our close with unread bytes in the socket makes the kernel
 * send a reset (RFC 9293 §3.6), and the client's HTTP stack reports the
 * failed write (EPIPE, ECONNRESET) instead of the status it had not parsed
 * yet. RFC 9112 §9.6 ("Tear-down") asks a server to keep reading for this
 * reason ("lingering close"). Reading everything is no better: a client
 * could send an endless body. So: drain up to one chunk of the largest
 * size our clients send plus a margin, for at most `DRAIN_LIMIT_MS`; a body
 * that ends within that leaves the connection usable (keep-alive), and
 * anything beyond is cut by closing the socket — the client has had the
 * answer for the whole time it took to send the bound.
 */
/** The CLI's tus chunk (64 MiB) and a margin: a refused chunk is always read to its end. */
export const DRAIN_LIMIT_BYTES = 72 * 1024 * 1024;
/** nginx's `lingering_time` default: a client still sending after this is cut whatever the bytes. */
export const DRAIN_LIMIT_MS = 30_000;

const draining = new WeakSet<IncomingMessage>();

/** Reads and drops what is left of `request`'s body, bounded; the connection is closed past the bound. Idempotent. */
export function drainRest(request: IncomingMessage, limits: { bytes: number; ms: number } = { bytes: DRAIN_LIMIT_BYTES, ms: DRAIN_LIMIT_MS }): void {
  if (request.complete || request.destroyed || draining.has(request)) return;
  draining.add(request);
  let read = 0;
  const done = () => {
    clearTimeout(timer);
    request.off('data', onData);
    request.off('end', done);
    request.off('close', done);
  };
  // Destroying the request ends its connection for HTTP/1.1 (an unfinished body aborts it) and only its
  // stream for HTTP/2 (RST_STREAM), never the other calls sharing that session; an injected request has no socket to end.
  const cut = () => {
    done();
    request.destroy();
  };
  const onData = (chunk: Buffer) => {
    read += chunk.byteLength;
    if (read > limits.bytes) cut();
  };
  const timer = setTimeout(cut, limits.ms);
  timer.unref();
  request.on('data', onData);
  request.once('end', done);
  request.once('close', done);
  // a body left paused (piped away, or stopped by a lock hand-over) would otherwise stall the connection
  request.resume();
}
