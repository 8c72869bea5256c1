import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightsoutError } from '@lightsout/shared';
import type { Registry } from 'prom-client';

export interface HealthServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Ready = the agent can do its job: undefined, or why not (the 503 body's message). */
  notReady: () => string | undefined;
}

function json(status: number, body: unknown): [number, Record<string, string>, string] {
  return [status, { 'content-type': 'application/json' }, JSON.stringify(body)];
}

/**
 * The agent's local observability listener (config `metrics.listen`, off
 * unless set): `/healthz` (the process answers), `/readyz` (the control
 * channel is open) and `/metrics` (Prometheus text). It needs no login, so it
 * belongs on loopback or a monitoring network, never towards the BMCs.
 */
export class HealthServer {
  readonly #options: HealthServerOptions;
  readonly #server: Server;

  constructor(options: HealthServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      void this.#answer(request.method ?? 'GET', (request.url ?? '/').split('?')[0]!).then(([status, headers, body]) => response.writeHead(status, headers).end(body));
    });
  }

  async #answer(method: string, path: string): Promise<[number, Record<string, string>, string]> {
    if (method !== 'GET') return json(405, { code: 'BAD_REQUEST', message: 'only GET here' });
    switch (path) {
      case '/healthz':
        return json(200, { status: 'ok' });
      case '/readyz': {
        const reason = this.#options.notReady();
        return reason === undefined ? json(200, { status: 'ready' }) : json(503, { code: 'AGENT_OFFLINE', message: reason });
      }
      case '/metrics':
        try {
          return [200, { 'content-type': this.#options.registry.contentType }, await this.#options.registry.metrics()];
        } catch {
          return json(500, { code: 'INTERNAL', message: 'metrics collection failed' });
        }
      default:
        return json(404, { code: 'NOT_FOUND', message: 'GET /healthz, /readyz or /metrics' });
    }
  }

  /** Listens; a port in use or an address not on this host is CONFIG_INVALID (the operator's to fix). */
  async start(): Promise<AddressInfo> {
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    }).catch((error: NodeJS.ErrnoException) => {
      throw new LightsoutError('CONFIG_INVALID', `metrics.listen ${host}:${port} cannot be used (${error.code ?? error.message})`, { hint: 'choose a free port on an address of this host' });
    });
    return this.#server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
