import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RelayMetrics {
  registry: Registry;
  /** This replica's `gateway` label value (metrics.gateway, else the host of publicUrl). */
  gateway: string;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** Labelled `gateway`: this replica's name. */
  connectedAgents: Gauge<'gateway'>;
  /** Console stream payload through this replica's splices: `to_client` (from the BMC) and `to_agent` (typed, pointer and keys). */
  streamBytes: Counter<'gateway' | 'direction'>;
  /** Body bytes of virtual-media uploads (tus PATCH) this replica received, whether kept here, fed to an agent or hashed as proof. */
  uploadBytes: Counter<'gateway'>;
  controlMessages: Counter<'direction' | 'type'>;
  /** Requests refused before Fastify because their client address had too many in flight (http/client-requests.ts). */
  clientRequestsRefused: Counter;
  /** Where /metrics is served (metrics.host:port), once the app is ready; undefined when off. */
  address(): AddressInfo | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: RelayMetrics;
  }
}

/**
 * One registry per app instance, so tests that build several apps never share
 * counters. Served on the metrics listener only (config `metrics`), because
 * /metrics needs no login.
 */
/** The `gateway` label of a replica: its configured name, else the host[:port] of its own public URL (unique per replica). */
export function gatewayNameOf(config: { publicUrl: string; metrics: { gateway?: string } }): string {
  return config.metrics.gateway ?? new URL(config.publicUrl).host;
}

async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const registry = new Registry();
  const gateway = gatewayNameOf(app.config);
  collectDefaultMetrics({ register: registry });
  const listener = app.config.metrics.port === undefined ? undefined : createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND', message: 'only GET /metrics here' }));
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => {
        app.log.error({ err: error }, 'metrics collection failed');
        response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'INTERNAL', message: 'internal error' }));
      },
    );
  });
  const metrics: RelayMetrics = {
    address: () => (listener?.listening === true ? (listener.address() as AddressInfo) : undefined),
    registry,
    gateway,
    httpRequestDuration: new Histogram({
      name: 'lightsout_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    connectedAgents: new Gauge({ name: 'lightsout_agents_connected', help: 'Agents with a live control connection to this replica', labelNames: ['gateway'], registers: [registry] }),
    streamBytes: new Counter({
      name: 'lightsout_stream_bytes_total',
      help: 'Console stream bytes spliced by this replica: to_client (from the agent) and to_agent (from the client)',
      labelNames: ['gateway', 'direction'],
      registers: [registry],
    }),
    uploadBytes: new Counter({ name: 'lightsout_upload_bytes_total', help: 'Virtual-media upload body bytes received by this replica', labelNames: ['gateway'], registers: [registry] }),
    controlMessages: new Counter({
      name: 'lightsout_control_messages_total',
      help: 'Control-channel messages by direction (in = from agents) and type',
      labelNames: ['direction', 'type'],
      registers: [registry],
    }),
    clientRequestsRefused: new Counter({
      name: 'lightsout_client_requests_refused_total',
      help: 'Requests answered 429 before any route ran: their client address had limits.clientRequests.perAddress in flight',
      registers: [registry],
    }),
  };
  // Present from the start, so a replica with no agent yet says 0 instead of nothing.
  metrics.connectedAgents.set({ gateway }, 0);
  for (const direction of ['to_client', 'to_agent']) metrics.streamBytes.inc({ gateway, direction }, 0);
  metrics.uploadBytes.inc({ gateway }, 0);
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: ids in paths would explode the label set.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  if (listener !== undefined) {
    const { host, port } = app.config.metrics;
    app.addHook('onReady', async () => {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(port, host, () => {
          listener.off('error', reject);
          resolve();
        });
      });
      app.log.info({ metrics: `http://${host.includes(':') ? `[${host}]` : host}:${(listener.address() as AddressInfo).port}/metrics` }, 'metrics listener ready');
    });
    app.addHook('onClose', async () => {
      if (!listener.listening) return;
      listener.closeAllConnections();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    });
  }
}

export default fp(metricsPlugin, { name: 'lightsout-metrics' });
