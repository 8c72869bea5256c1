import { createServer, type Server, type Socket } from 'node:net';
import { RfbServerSession, type RfbSessionOptions } from './session.js';

/** RFB over plain TCP (the BMC's port 5900). */
export class RfbTcpServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly sessionOptions: () => RfbSessionOptions) {
    this.server = createServer((socket) => this.accept(socket));
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const session = new RfbServerSession({ write: (bytes) => socket.write(bytes), close: () => socket.destroy() }, this.sessionOptions());
    socket.on('data', (chunk) => session.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      session.dispose();
    });
  }
}
