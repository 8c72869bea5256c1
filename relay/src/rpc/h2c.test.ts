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
