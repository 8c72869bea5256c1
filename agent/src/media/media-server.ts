import { type IncomingMessage, type ServerResponse, createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { MediaCache } from './cache.js';
import { parseRange } from './range.js';
import type { MediaUrlSigner } from './url-signer.js';

/**
 * The HTTP(S) server BMCs fetch images from, bound to the agent's address on
 * the out-of-band network. It serves only signed URLs (url-signer.ts), reads
 * files in ranges straight from the cache (never whole in memory) and logs
 * every access, granted or refused.
 */
export interface MediaAccess {
  time: string;
  remoteAddress: string;
  method: string;
  path: string;
  status: number;
  sha256: string | null;
  range: string | null;
  bytes: number;
  reason?: string;
}

export interface MediaServerOptions {
  cache: MediaCache;
  signer: MediaUrlSigner;
  /** Address on the out-of-band network (e.g. `10.0.0.2`); 127.0.0.1 in tests. */
  host: string;
  port?: number;
  tls?: { key: string; cert: string };
  /** The base URL BMCs use, when it differs from host:port (NAT); default from the listening address. */
  publicBaseUrl?: string;
  onAccess?: (access: MediaAccess) => void;
  now?: () => number;
}

export class MediaServer {
  private readonly options: MediaServerOptions;
  private readonly server: Server;
  private baseUrl = '';
  /** Bytes sent per image, for progress and the benchmark. */
  readonly bytesServed = new Map<string, number>();

  constructor(options: MediaServerOptions) {
    this.options = options;
    const handler = (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response);
    this.server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port, address } = this.server.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    this.baseUrl = (this.options.publicBaseUrl ?? `${this.options.tls ? 'https' : 'http'}://${host}:${port}`).replace(/\/+$/, '');
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The base URL BMCs fetch from (empty before start). */
  get url(): string {
    return this.baseUrl;
  }

  /** A URL for `sha256`, valid for `ttlSeconds`, for the BMC at `client` (an IP, or `any`); ending in `filename` when given. */
  urlFor(sha256: string, client: string, ttlSeconds: number, filename?: string): string {
    const now = this.options.now?.() ?? Date.now();
    const expires = Math.floor(now / 1000) + ttlSeconds;
    return `${this.baseUrl}${this.options.signer.pathFor({ sha256, client, expires }, filename)}`;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0]!;
    const remoteAddress = request.socket.remoteAddress ?? '';
    const log = (status: number, sha256: string | null, bytes: number, reason?: string) =>
      this.options.onAccess?.({
        time: new Date(started).toISOString(),
        remoteAddress,
        method,
        path,
        status,
        sha256,
        range: request.headers.range ?? null,
        bytes,
        ...(reason ? { reason } : {}),
      });

    if (method !== 'GET' && method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return log(405, null, 0, 'method');
    }
    const verdict = this.options.signer.verify(path, remoteAddress, this.options.now?.() ?? Date.now());
    if (!verdict.ok) {
      response.writeHead(verdict.status, { 'Content-Type': 'text/plain' }).end(verdict.status === 403 ? 'forbidden\n' : 'not found\n');
      return log(verdict.status, null, 0, verdict.reason);
    }
    const { sha256 } = verdict.claims;
    const { cache } = this.options;
    const size = cache.sizeOf(sha256);
    if (size === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not in cache\n');
      return log(404, sha256, 0, 'not cached');
    }
    const release = cache.pin(sha256);
    try {
      await cache.touch(sha256);
      const range = parseRange(request.headers.range, size);
      const headers: Record<string, string | number> = {
        'Accept-Ranges': 'bytes',
        'Content-Type': 'application/octet-stream',
        ETag: `"${sha256}"`,
        'Cache-Control': 'no-store',
      };
      if (range.kind === 'unsatisfiable') {
        response.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
        return log(416, sha256, 0);
      }
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end : size - 1;
      const length = size === 0 ? 0 : end - start + 1;
      const status = range.kind === 'partial' ? 206 : 200;
      response.writeHead(status, { ...headers, 'Content-Length': length, ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}) });
      if (method === 'HEAD' || length === 0) {
        response.end();
        return log(status, sha256, 0);
      }
      let sent = 0;
      const source = cache.openRead(sha256, { start, end });
      source.on('data', (chunk: Buffer) => {
        sent += chunk.byteLength;
      });
      try {
        await pipeline(source, response);
      } catch (error) {
        // the BMC hung up mid-transfer (it often does, after reading what it needs): log it, nothing to answer
        log(status, sha256, sent, `aborted: ${(error as Error).message}`);
        return;
      } finally {
        this.bytesServed.set(sha256, (this.bytesServed.get(sha256) ?? 0) + sent);
      }
      log(status, sha256, sent);
    } finally {
      release();
    }
  }
}
