import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NewConnectionQueue } from '../http/new-connections.js';
import { createDualProtocolServer } from './h2c.js';

/** Resolves when `socket` has been closed by the other side (or by anything). */
const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('createDualProtocolServer close', () => {
  it('ends what is still open after its grace, whatever holds it: an unanswered HTTP/1.1 request, an HTTP/2 stream, an upgraded socket, a connection that said nothing', async () => {
    let handled = 0;
    let onHandled: (() => void) | undefined;
    // Answers nothing, ever: every request stays in flight.
    const server = createDualProtocolServer(
      () => {
        handled += 1;
        onHandled?.();
      },
      new NewConnectionQueue(16),
      100,
    );
    const upgraded: Socket[] = [];
    server.on('upgrade', (_request, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
      upgraded.push(socket);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    const requestsHandled = (count: number) => new Promise<void>((resolve) => {
      const check = () => handled >= count && resolve();
      onHandled = check;
      check();
    });

    const h1 = http.get({ host: '127.0.0.1', port, path: '/held', agent: false });
    h1.on('error', () => undefined);
    const h1Socket = await new Promise<Socket>((resolve) => h1.once('socket', resolve));
    const h2 = http2.connect(`http://127.0.0.1:${port}`);
    h2.on('error', () => undefined);
    const stream = h2.request({ ':path': '/held' });
    stream.on('error', () => undefined);
    await requestsHandled(2);

    const upgrade = net.connect(port, '127.0.0.1');
    upgrade.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    await new Promise<void>((resolve) => upgrade.once('data', () => resolve()));
    expect(upgraded).toHaveLength(1);
    const silent = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => silent.once('connect', () => resolve()));

    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    await Promise.all([closed(h1Socket), closed(upgrade), closed(silent), new Promise<void>((resolve) => (h2.closed ? resolve() : h2.once('close', () => resolve())))]);
    expect(server.listening).toBe(false);
  }, 20_000);
});

/**
 * HTTP/2 gets the bounds the HTTP/1.1 server has (Node's `requestTimeout`
 * read from the server the relay listens with, and an idle bound of its own): a
 * request must arrive whole within requestTimeout, a body that stops or
 * trickles is answered 408 and its stream reset (RFC 9113 §8.1: NO_ERROR
 * after a complete answer); a session with no stream open for its idle
 * time gets a GOAWAY (RFC 9113 §6.8); a connection that has not
 * said which protocol it speaks within headersTimeout is closed.
 */
describe('createDualProtocolServer timeouts', () => {
  async function listening(handler: (request: http.IncomingMessage, response: http.ServerResponse) => void, timeouts: { requestTimeout: number; h2IdleMs: number }) {
    const server = createDualProtocolServer(handler, undefined, 100, timeouts.h2IdleMs);
    server.requestTimeout = timeouts.requestTimeout;
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    session.on('error', () => undefined);
    return {
      session,
      async close() {
        session.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  /** Reads the body and never answers (a tus PATCH waiting for the rest of its bytes). */
  const waitsForTheBody = (request: http.IncomingMessage) => void request.resume();

  /** The answer to `stream` and the RST_STREAM code it ended with. */
  const outcome = (stream: http2.ClientHttp2Stream) =>
    new Promise<{ status: number | undefined; rstCode: number | undefined }>((resolve) => {
      let status: number | undefined;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('error', () => undefined);
      stream.resume();
      stream.once('close', () => resolve({ status, rstCode: stream.rstCode }));
    });

  it('a request whose body stops arriving is answered 408 at requestTimeout and its stream reset', async () => {
    const relay = await listening(waitsForTheBody, { requestTimeout: 300, h2IdleMs: 5000 });
    const stream = relay.session.request({ ':method': 'PATCH', ':path': '/v1/media/uploads/x' }, { endStream: false });
    const ended = outcome(stream);
    stream.write(Buffer.alloc(1));
    expect(await ended).toEqual({ status: 408, rstCode: http2.constants.NGHTTP2_NO_ERROR });
    await relay.close();
  }, 10_000);

  it('a body trickling a byte at a time is cut at requestTimeout too', async () => {
    const relay = await listening(waitsForTheBody, { requestTimeout: 300, h2IdleMs: 5000 });
    const stream = relay.session.request({ ':method': 'PATCH', ':path': '/v1/media/uploads/x' }, { endStream: false });
    const ended = outcome(stream);
    // the behaviour under test: never idle, never done
    const trickle = setInterval(() => stream.write(Buffer.alloc(1)), 20);
    const answer = await ended;
    clearInterval(trickle);
    expect(answer).toEqual({ status: 408, rstCode: http2.constants.NGHTTP2_NO_ERROR });
    await relay.close();
  }, 10_000);

  it('a request that arrived whole is not cut however long its answer streams (WatchServers)', async () => {
    const relay = await listening(
      (request, response) => {
        request.resume();
        response.writeHead(200);
        response.write('first ');
        // past requestTimeout: the request itself was whole long before
        setTimeout(() => response.end('last'), 600);
      },
      { requestTimeout: 200, h2IdleMs: 5000 },
    );
    const stream = relay.session.request({ ':path': '/v1/watch' });
    let body = '';
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    const answer = await outcome(stream);
    expect({ ...answer, body }).toEqual({ status: 200, rstCode: http2.constants.NGHTTP2_NO_ERROR, body: 'first last' });
    await relay.close();
  }, 10_000);

  it('a session with no stream open for its idle time gets a GOAWAY; an open stream, however quiet, is not idle', async () => {
    const relay = await listening(
      (request, response) => {
        request.resume();
        // quiet for three times the idle bound before it answers
        setTimeout(() => response.end('done'), 1500);
      },
      { requestTimeout: 0, h2IdleMs: 500 },
    );
    const events: string[] = [];
    const goaway = new Promise<void>((resolve) =>
      relay.session.once('goaway', () => {
        events.push('goaway');
        resolve();
      }),
    );
    const stream = relay.session.request({ ':path': '/held' });
    const answer = await outcome(stream);
    events.push(`answered ${answer.status}`);
    await goaway;
    expect(events).toEqual(['answered 200', 'goaway']);
    await relay.close();
  }, 10_000);

  it('a connection that never finishes saying which protocol it speaks is closed at headersTimeout, as an HTTP/1.1 one that never sends its headers', async () => {
    const server = createDualProtocolServer(() => undefined, new NewConnectionQueue(16), 100);
    server.headersTimeout = 200;
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    const silent = net.connect(port, '127.0.0.1');
    const halfPreface = net.connect(port, '127.0.0.1', () => halfPreface.write('PRI * HTTP/2.0\r\n'));
    for (const socket of [silent, halfPreface]) socket.on('error', () => undefined);
    await Promise.all([closed(silent), closed(halfPreface)]);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }, 10_000);
});
