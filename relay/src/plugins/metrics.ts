import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RelayMetrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  connectedAgents: Gauge;
  controlMessages: Counter<'direction' | 'type'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: RelayMetrics;
  }
}

/** One registry per app instance, so tests that build several apps never share counters. */
async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: RelayMetrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'lightsout_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    connectedAgents: new Gauge({ name: 'lightsout_agents_connected', help: 'Agents with a live control connection', registers: [registry] }),
    controlMessages: new Counter({
      name: 'lightsout_control_messages_total',
      help: 'Control-channel messages by direction (in = from agents) and type',
      labelNames: ['direction', 'type'],
      registers: [registry],
    }),
  };
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: ids in paths would explode the label set.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { tags: ['health'], hide: true } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

export default fp(metricsPlugin, { name: 'lightsout-metrics' });
