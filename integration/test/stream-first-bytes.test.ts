import { createHash } from 'node:crypto';
import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StreamChain, startStreamChain } from '../src/stream-chain.js';
import { until } from '@lightsout/lab/wait';

/**
 * A serial-console WebSocket BMC that sends its first output in the same TCP
 * write as its `101 Switching Protocols` (RFC 6455 §4.2.2 lets a server send
 * frames right after the handshake; under load that is one segment). The
 * agent's WebSocket client then sees the first frames before its port
 * promise has settled into a console group: those bytes must still be the
 * first the client gets. (They were dropped before: an intermittent
 * "16 KiB short" at the end of the kill -9 stream test.)
 */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const banner = Buffer.from('U-Boot 2024.01\r\nbooting...\r\n');

/** An unmasked binary frame (server → client, RFC 6455 §5.2), payload < 126 bytes. */
function binaryFrame(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
}

async function startEagerConsole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let request = '';
    socket.on('data', function onRequest(chunk: Buffer) {
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.off('data', onRequest);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(request)?.[1] ?? '';
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
      // Handshake reply and the first two frames of console output in one write.
      socket.write(Buffer.concat([Buffer.from(response, 'latin1'), binaryFrame(banner.subarray(0, 16)), binaryFrame(banner.subarray(16))]));
      socket.on('data', () => {}); // the agent's input: not needed here
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/console0`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('console output that arrives with the BMC handshake', () => {
  let console0: Awaited<ReturnType<typeof startEagerConsole>>;
  let chain: StreamChain;

  beforeAll(async () => {
    console0 = await startEagerConsole();
    chain = await startStreamChain({
      users: { alice: { subject: 'u-alice', username: 'alice', tenant: 'acme', role: 'operator' } },
      agents: { 'agent-a': [{ id: 'web-01', name: 'web-01', tenant: 'acme', rack: 'r1', labels: {}, serial: { url: console0.url } }] },
    });
  });
  afterAll(async () => {
    await chain?.close();
    await console0?.close();
  });

  it('reaches the client first and whole', async () => {
    const received: Buffer[] = [];
    const client = chain.connect(await chain.createSession('alice', 'web-01', 'serial'), { onData: (bytes) => received.push(Buffer.from(bytes)) });
    try {
      await until(() => Buffer.concat(received).length >= banner.length, 10_000, () => `the banner (got ${JSON.stringify(Buffer.concat(received).toString())})`);
      expect(Buffer.concat(received).toString()).toBe(banner.toString());
    } finally {
      client.close();
    }
  });
});
