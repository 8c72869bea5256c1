import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openRfbProxy, type RfbProxy } from './proxy.js';
import { ByteReader } from '../testing/rfb-test-client.js';
import { type ScriptedServer, startScriptedServer } from '../testing/rfb-scripted-server.js';

// The splice phase of the proxy: byte-exact both ways, bounded memory under
// a slow reader, and closing either side closes the other. The BMC here is
// a scripted server that completes a 3.8/None handshake and then hands its
// socket to the test.

let servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

/** A scripted BMC that completes a 3.8/None handshake; `socketReady` resolves with its side of the connection once it has. */
async function scriptedNoneBmc(): Promise<{ server: ScriptedServer; socketReady: Promise<Socket> }> {
  let handOver!: (socket: Socket) => void;
  const socketReady = new Promise<Socket>((resolve) => (handOver = resolve));
  const server = await startScriptedServer(async (socket, next) => {
    socket.write('RFB 003.008\n');
    await next(12);
    socket.write(Buffer.of(1, 1));
    await next(1);
    socket.write(Buffer.alloc(4));
    handOver(socket);
  });
  servers.push(server);
  return { server, socketReady };
}

async function proxyToScriptedBmc(): Promise<{ proxy: RfbProxy; bmcSocket: Socket; client: ByteReader }> {
  const { server, socketReady } = await scriptedNoneBmc();
  const proxy = await openRfbProxy({ url: server.url });
  const client = new ByteReader(proxy.client);
  // Client handshake: version, [1, None], choice, OK.
  expect((await client.read(12)).toString()).toBe('RFB 003.008\n');
  proxy.client.write('RFB 003.008\n');
  expect(Buffer.from(await client.read(2)).toString('hex')).toBe('0101');
  proxy.client.write(Buffer.of(1));
  expect(Buffer.from(await client.read(4)).toString('hex')).toBe('00000000');
  return { proxy, bmcSocket: await socketReady, client };
}

/** Resolves once the scripted BMC's socket has closed (at once if it already has). */
const socketClosed = async (socket: Socket): Promise<void> => {
  if (!socket.closed) await once(socket, 'close');
};

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('RFB proxy splice phase', () => {
  it('passes 8 MiB of random bytes each way unchanged', async () => {
    const { proxy, bmcSocket, client } = await proxyToScriptedBmc();
    const size = 8 * 1024 * 1024;
    const down = randomBytes(size);
    const up = randomBytes(size);
    const upReceived: Buffer[] = [];
    let upLength = 0;
    const upDone = new Promise<void>((resolve) =>
      bmcSocket.on('data', (chunk: Buffer) => {
        upReceived.push(chunk);
        upLength += chunk.length;
        if (upLength >= size) resolve();
      }),
    );
    bmcSocket.write(down);
    proxy.client.write(up);
    const downReceived = Buffer.from(await client.read(size));
    await upDone;
    expect(sha256(downReceived)).toBe(sha256(down));
    expect(sha256(Buffer.concat(upReceived))).toBe(sha256(up));
    proxy.close();
    await proxy.closed;
  });

  it('a client that never reads pauses the BMC: buffered bytes stay bounded', async () => {
    const { proxy, bmcSocket } = await proxyToScriptedBmc();
    // Stop consuming the client side entirely.
    proxy.client.pause();
    proxy.client.removeAllListeners('data');
    const total = 64 * 1024 * 1024;
    bmcSocket.write(Buffer.alloc(total, 0x55));
    // Condition: the client stream's buffer has filled up to its high-water mark…
    const deadline = Date.now() + 10_000;
    while (proxy.client.readableLength < proxy.client.readableHighWaterMark && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(proxy.client.readableLength).toBeGreaterThanOrEqual(proxy.client.readableHighWaterMark);
    // …then give socket reads many event-loop turns to prove nothing more is pulled.
    for (let turn = 0; turn < 100; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(proxy.client.readableLength).toBeLessThanOrEqual(proxy.client.readableHighWaterMark + 1024 * 1024);
    // Most of the 64 MiB is still queued at the BMC: only kernel buffers moved.
    expect(bmcSocket.writableLength).toBeGreaterThan(total - 16 * 1024 * 1024);
    proxy.close();
    await proxy.closed;
  });

  it('a BMC that stops reading makes client writes report backpressure', async () => {
    const { proxy, bmcSocket } = await proxyToScriptedBmc();
    bmcSocket.pause();
    const chunk = Buffer.alloc(64 * 1024, 0xaa);
    let accepted = 0;
    // Bounded: TCP buffers plus the stream's high-water mark are far below 256 MiB.
    while (proxy.client.write(chunk) && accepted < 256 * 1024 * 1024) accepted += chunk.length;
    expect(accepted).toBeLessThan(256 * 1024 * 1024);
    expect(proxy.client.writableNeedDrain).toBe(true);
    bmcSocket.resume();
    await once(proxy.client, 'drain');
    proxy.close();
    await proxy.closed;
  });

  it('the BMC closing ends the client stream cleanly', async () => {
    const { proxy, bmcSocket, client } = await proxyToScriptedBmc();
    bmcSocket.end(Buffer.from('bye'));
    expect(Buffer.from(await client.read(3)).toString()).toBe('bye');
    await once(proxy.client, 'close');
    expect(await proxy.closed).toBeUndefined();
  });

  it('the BMC resetting the connection closes the client stream', async () => {
    const { proxy, bmcSocket } = await proxyToScriptedBmc();
    bmcSocket.resetAndDestroy();
    await proxy.closed;
    expect(proxy.client.destroyed).toBe(true);
  });

  it('closing the proxy closes the BMC connection', async () => {
    const { proxy, bmcSocket } = await proxyToScriptedBmc();
    proxy.close();
    await socketClosed(bmcSocket);
    expect(await proxy.closed).toBeUndefined();
  });

  it('a client that is not speaking RFB closes the session with PROTOCOL_VERSION and hangs up on the BMC', async () => {
    const { server, socketReady } = await scriptedNoneBmc();
    const proxy = await openRfbProxy({ url: server.url });
    const bmcSocket = await socketReady;
    const errors: unknown[] = [];
    proxy.client.on('error', (error) => errors.push(error));
    proxy.client.resume();
    proxy.client.write('GET / HTTP/1.1\r\n\r\n');
    expect(await proxy.closed).toMatchObject({ code: 'PROTOCOL_VERSION' });
    expect(errors).toHaveLength(1);
    await socketClosed(bmcSocket);
  });

  it('aborting the signal aborts an opening proxy with the signal reason', async () => {
    const server = await startScriptedServer(() => undefined); // never greets
    servers.push(server);
    const controller = new AbortController();
    const opening = openRfbProxy({ url: server.url, signal: controller.signal });
    controller.abort(new Error('user went away'));
    await expect(opening).rejects.toThrow('user went away');
  });

  it('aborting the signal closes an open proxy and its BMC connection', async () => {
    const { server, socketReady } = await scriptedNoneBmc();
    const controller = new AbortController();
    const proxy = await openRfbProxy({ url: server.url, signal: controller.signal });
    const bmcSocket = await socketReady;
    controller.abort();
    expect(await proxy.closed).toBeUndefined();
    await socketClosed(bmcSocket);
  });
});
