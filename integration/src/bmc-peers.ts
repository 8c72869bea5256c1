import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

/** A TCP endpoint standing in for a console: echoes every byte back. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  return listen(server, sockets);
}

/**
 * A TCP endpoint that sends `sendBytes` of seeded random data and hashes
 * what it receives: the two directions are independent, as a real console's are.
 */
export async function startSourceSinkServer(sendBytes: number): Promise<{
  port: number;
  sent: Promise<{ sha256: string }>;
  received(): { bytes: number; sha256: string };
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const hash = createHash('sha256');
  let receivedBytes = 0;
  let resolveSent: (value: { sha256: string }) => void = () => {};
  const sent = new Promise<{ sha256: string }>((resolve) => (resolveSent = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      receivedBytes += chunk.length;
      hash.update(chunk);
    });
    const sendHash = createHash('sha256');
    let remaining = sendBytes;
    const pump = () => {
      // Bounded by sendBytes / 64 KiB iterations overall.
      while (remaining > 0) {
        const chunk = randomBytes(Math.min(64 * 1024, remaining));
        remaining -= chunk.length;
        sendHash.update(chunk);
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      resolveSent({ sha256: sendHash.digest('hex') });
    };
    pump();
  });
  const listening = await listen(server, sockets);
  return {
    ...listening,
    sent,
    received: () => ({ bytes: receivedBytes, sha256: hash.copy().digest('hex') }),
  };
}

function listen(server: Server, sockets: Set<Socket>): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Deterministic pseudo-random bytes (xorshift), cheap enough for 100 MiB. */
export function seededBytes(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  let at = 0;
  while (at + 4 <= length) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out.writeUInt32LE(state, at);
    at += 4;
  }
  while (at < length) out[at++] = at & 0xff;
  return out;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * An OpenBMC-style serial console WebSocket (`/console0`: binary frames of raw
 * host serial bytes both ways) that sends `sendBytes` of random data and
 * hashes what it receives. Honours backpressure through `bufferedAmount`.
 */
export async function startSerialWebSocketSourceSink(sendBytes: number): Promise<{
  url: string;
  sent: Promise<{ sha256: string }>;
  received(): { bytes: number; sha256: string };
  close(): Promise<void>;
}> {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/console0' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const hash = createHash('sha256');
  let receivedBytes = 0;
  let resolveSent: (value: { sha256: string }) => void = () => {};
  const sent = new Promise<{ sha256: string }>((resolve) => (resolveSent = resolve));
  let connections = 0;
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => {
      receivedBytes += data.length;
      hash.update(data);
    });
    socket.on('error', () => {});
    // Only the first console connection is the data source (as a host UART has one output).
    if (connections++ > 0) return;
    const sendHash = createHash('sha256');
    let remaining = sendBytes;
    const pump = () => {
      while (remaining > 0 && socket.readyState === socket.OPEN) {
        if (socket.bufferedAmount > 1024 * 1024) return void setTimeout(pump, 2);
        const chunk = randomBytes(Math.min(16 * 1024, remaining));
        remaining -= chunk.length;
        sendHash.update(chunk);
        socket.send(chunk);
      }
      if (remaining === 0) resolveSent({ sha256: sendHash.digest('hex') });
    };
    pump();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/console0`,
    sent,
    received: () => ({ bytes: receivedBytes, sha256: hash.copy().digest('hex') }),
    close: () =>
      new Promise<void>((done) => {
        for (const client of server.clients) client.terminate();
        server.close(() => done());
      }),
  };
}

/** A `/console0`-style serial WebSocket whose "host" echoes every byte (a shell with echo on). */
export async function startSerialWebSocketEcho(): Promise<{ url: string; received(): Buffer; connections(): number; close(): Promise<void> }> {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/console0' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const received: Buffer[] = [];
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data: Buffer) => {
      received.push(Buffer.from(data));
      for (const client of server.clients) client.send(data);
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/console0`,
    received: () => Buffer.concat(received),
    /** Open console connections (the agent holds one while a session uses the console). */
    connections: () => server.clients.size,
    close: () =>
      new Promise<void>((done) => {
        for (const client of server.clients) client.terminate();
        server.close(() => done());
      }),
  };
}
