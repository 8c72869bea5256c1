import { createServer, type Server, type Socket } from 'node:net';
import { type AddressInfo } from 'node:net';

/**
 * Test fixture: a tiny TCP "VNC server" that runs a script per connection,
 * for hostile and edge-case handshakes no real server produces.
 */
export interface ScriptedServer {
  readonly url: string;
  /** Bytes each connection sent while its script ran, in connection order. */
  readonly received: Buffer[][];
  close(): Promise<void>;
}

export type Script = (socket: Socket, next: (length: number) => Promise<Buffer>) => Promise<void> | void;

export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const received: Buffer[][] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // the proxy may reset us; that is the point of these tests
    const chunks: Buffer[] = [];
    received.push(chunks);
    let buffered = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      wake?.();
    };
    socket.on('data', onData);
    socket.once('close', () => wake?.());
    const next = async (length: number): Promise<Buffer> => {
      while (buffered.length < length) {
        if (socket.destroyed) throw new Error('client closed');
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const out = buffered.subarray(0, length);
      buffered = buffered.subarray(length);
      return out;
    };
    // Once the script is done the socket belongs to whoever it was handed to.
    void Promise.resolve(script(socket, next)).then(
      () => socket.off('data', onData),
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `vnc://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
