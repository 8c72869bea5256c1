import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type SecureContext, TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Host } from '../host/host.js';
import { RfbServerSession } from '../rfb/session.js';
import type { BmcWebUi } from './ui.js';

/**
 * The BMC's web port: Redfish requests plus the OpenBMC-style WebSockets
 * `/console0` (raw host serial bytes) and `/kvm/0` (raw RFB). One server per
 * BMC, HTTPS with a self-signed certificate or plain HTTP.
 *
 * HTTPS is a plain TCP listener that wraps each connection in a TLSSocket
 * with the fleet's one SecureContext and hands it to the HTTP server: an
 * https.Server per BMC would build its own context (~15 ms and tens of kB each,
 * which is most of the cost of 1,000 BMCs).
 */
export interface WebServerOptions {
  host: Host;
  /** The fleet's TLS context (self-signed; clients reach BMCs by IP, so no SNI). */
  tls: { secureContext: SecureContext } | undefined;
  /** Checks Basic / X-Auth-Token on WebSocket upgrades; false → 401. */
  authorizeUpgrade(request: IncomingMessage): boolean;
  handleRequest(request: IncomingMessage, response: ServerResponse): void;
  vncPassword: string | undefined;
  desktopName: string;
  /** The BMC's own web UI (login page, session cookie, `/ws/echo`); the rest of the port is Redfish's. */
  ui?: BmcWebUi;
}

const MAX_CONSOLE_SESSIONS = 32; // bmcweb's limit for /console0
const MAX_KVM_SESSIONS = 4; // bmcweb's limit for /kvm/0

export class BmcWebServer {
  private readonly server: Server;
  /** The TCP front for HTTPS; undefined for plain HTTP, where `server` listens itself. */
  private readonly tlsListener: NetServer | undefined;
  private readonly rawSockets = new Set<Socket>();
  private readonly webSockets = new WebSocketServer({
    noServer: true,
    maxPayload: 1 << 20,
    // bmcweb answers with the client's protocol; noVNC asks for "binary".
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });
  private readonly consoleClients = new Set<WebSocket>();
  private readonly kvmClients = new Set<WebSocket>();

  constructor(private readonly options: WebServerOptions) {
    const handler = (request: IncomingMessage, response: ServerResponse) => (options.ui?.handles(request) ? options.ui.handle(request, response) : options.handleRequest(request, response));
    this.server = createHttpServer(handler);
    this.server.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
    const tls = options.tls;
    this.tlsListener = tls
      ? createNetServer((socket) => {
          this.rawSockets.add(socket);
          socket.once('close', () => this.rawSockets.delete(socket));
          const secure = new TLSSocket(socket, { isServer: true, secureContext: tls.secureContext });
          secure.on('error', () => secure.destroy());
          this.server.emit('connection', secure);
        })
      : undefined;
  }

  async listen(port: number, host: string): Promise<number> {
    const listener = this.tlsListener ?? this.server;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const address = listener.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  async close(): Promise<void> {
    for (const client of [...this.consoleClients, ...this.kvmClients]) client.terminate();
    this.options.ui?.close();
    this.webSockets.close();
    this.server.closeAllConnections();
    for (const socket of this.rawSockets) socket.destroy();
    const listener = this.tlsListener ?? this.server;
    // Resolves also when the server never listened (close then reports ERR_SERVER_NOT_RUNNING).
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.options.ui?.upgrade(request, socket, head) === true) return;
    const path = new URL(request.url ?? '/', 'http://bmc').pathname;
    const reject = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (path !== '/console0' && path !== '/kvm/0') return reject('404 Not Found');
    if (!this.options.authorizeUpgrade(request)) return reject('401 Unauthorized');
    const clients = path === '/console0' ? this.consoleClients : this.kvmClients;
    if (clients.size >= (path === '/console0' ? MAX_CONSOLE_SESSIONS : MAX_KVM_SESSIONS)) return reject('503 Service Unavailable');
    this.webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      clients.add(webSocket);
      webSocket.on('close', () => clients.delete(webSocket));
      webSocket.on('error', () => webSocket.terminate());
      if (path === '/console0') this.attachConsole(webSocket);
      else this.attachKvm(webSocket);
    });
  }

  /** bmcweb obmc_console: host serial out as binary frames; any inbound frame is typed raw. */
  private attachConsole(webSocket: WebSocket): void {
    const host = this.options.host;
    const onSerial = (bytes: Uint8Array) => webSocket.send(bytes, { binary: true });
    host.on('serial', onSerial);
    webSocket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => host.type(toBytes(data)));
    webSocket.on('close', () => host.off('serial', onSerial));
  }

  /** bmcweb /kvm/0: the WebSocket carries the raw RFB stream, chunked arbitrarily. */
  private attachKvm(webSocket: WebSocket): void {
    const session = new RfbServerSession(
      { write: (bytes) => webSocket.send(bytes, { binary: true }), close: () => webSocket.close() },
      { host: this.options.host, password: this.options.vncPassword, desktopName: this.options.desktopName },
    );
    webSocket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => session.receive(toBytes(data)));
    webSocket.on('close', () => session.dispose());
  }
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
