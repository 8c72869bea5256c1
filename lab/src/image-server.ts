import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A plain HTTP file server on loopback, as an ISO mirror is to the agent's
 * mount by URL: it serves images with Content-Length, a strong ETag and
 * byte ranges (RFC 9110 §14: `Range`, `If-Range`, 206 with Content-Range),
 * answers configured redirects, and can cut a response midway (the socket
 * is destroyed after N bytes) to exercise a resumed fetch. Every request is
 * logged for the test to read.
 */
export interface ImageServerRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  status: number;
}

export interface ImageServerOptions {
  /** Address to listen on (any 127.0.0.0/8 address; default 127.0.0.1). */
  host?: string;
}

export class ImageServer {
  readonly requests: ImageServerRequest[] = [];
  private readonly images = new Map<string, { bytes: Buffer; etag: string }>();
  private readonly redirects = new Map<string, { location: string; status: number }>();
  /** Path → bytes after which the next full (non-range) answer is cut. */
  private readonly cuts = new Map<string, number>();
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly options: ImageServerOptions = {}) {}

  get url(): string {
    return this.origin;
  }

  serve(path: string, bytes: Buffer): void {
    this.images.set(path, { bytes, etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"` });
  }

  redirect(path: string, location: string, status = 302): void {
    this.redirects.set(path, { location, status });
  }

  /** The next full answer for `path` stops after `afterBytes` bytes (the connection is destroyed). */
  cutOnce(path: string, afterBytes: number): void {
    this.cuts.set(path, afterBytes);
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.origin = `http://${address.address}:${address.port}`;
    return this.origin;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://image-server').pathname;
    const range = request.headers.range;
    const ifRange = request.headers['if-range'] as string | undefined;
    const log = (status: number) => this.requests.push({ method: request.method ?? '', path, range, ifRange, status });
    const redirect = this.redirects.get(path);
    if (redirect) {
      log(redirect.status);
      response.writeHead(redirect.status, { location: redirect.location, 'content-length': 0 }).end();
      return;
    }
    const image = this.images.get(path);
    if (!image || (request.method !== 'GET' && request.method !== 'HEAD')) {
      log(404);
      response.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    const size = image.bytes.length;
    const match = typeof range === 'string' ? /^bytes=(\d+)-$/.exec(range) : null;
    const rangeApplies = match !== null && (ifRange === undefined || ifRange === image.etag) && Number(match[1]) < size;
    if (rangeApplies) {
      const start = Number(match[1]);
      log(206);
      response.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}`, etag: image.etag, 'accept-ranges': 'bytes' });
      response.end(request.method === 'HEAD' ? undefined : image.bytes.subarray(start));
      return;
    }
    log(200);
    response.writeHead(200, { 'content-length': size, etag: image.etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' });
    if (request.method === 'HEAD') return void response.end();
    const cut = this.cuts.get(path);
    if (cut !== undefined) {
      this.cuts.delete(path);
      response.write(image.bytes.subarray(0, cut), () => {
        // flushed: the client has these bytes and then loses the connection
        setImmediate(() => response.socket?.destroy());
      });
      return;
    }
    response.end(image.bytes);
  }
}
