import { LightsoutError } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type ClusterBus, LocalBus, PostgresBus } from '../cluster/bus.js';
import { ReplicaRegistry } from '../cluster/replicas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The deployment this replica belongs to: the bus between replicas and,
     * on PostgreSQL, the replica registry (undefined in a single process on
     * SQLite, where there is no one else).
     */
    cluster: { bus: ClusterBus; replicas: ReplicaRegistry | undefined };
  }
}

/** Paths only a gateway (or the single process) serves: agents connect to gateways, and clients' streams are spliced there. */
const GATEWAY_ONLY = ['/v1/agent/', '/v1/streams/'];
/** `GET /v1/streams/{sid}/route`: served by every replica. */
const ROUTE_QUESTION = /^\/v1\/streams\/[^/]+\/route$/;

/**
 * Joins this replica to its deployment: on PostgreSQL every replica (role
 * all included: two relays on one store are two replicas) registers with a
 * heartbeat and LISTENs on the cluster bus; on SQLite the bus is in-process.
 * A manager refuses the agent and stream endpoints (docs/deployment.md).
 * Registered after the store, before the agents plugin.
 */
async function clusterPlugin(app: FastifyInstance): Promise<void> {
  const { store: storeConfig, role } = app.config;
  const shared = storeConfig.driver === 'postgres' && storeConfig.postgresUrl !== undefined;
  const bus = shared ? new PostgresBus(app.store, storeConfig.postgresUrl!, app.log) : new LocalBus();
  const replicas = shared ? new ReplicaRegistry(app.store, { role, region: app.config.region ?? null, publicUrl: app.config.publicUrl }, app.log) : undefined;
  await bus.start();
  await replicas?.start();
  app.decorate('cluster', { bus, replicas });
  // Before the store closes (onClose runs in reverse registration order).
  app.addHook('onClose', async () => {
    await replicas?.close().catch((error: unknown) => app.log.warn({ err: error }, 'could not deregister this replica'));
    await bus.close();
  });
  if (role === 'manager') {
    app.addHook('onRequest', async (request) => {
      // The route the request matched, not its URL: the router decodes the path (`/v1/%61gent/connect` is
      // `/v1/agent/connect`) and a prefix test on the raw URL would let such a spelling through.
      const route = request.routeOptions.url;
      // Where a console's agent is now is asked of any replica, the manager included (docs/deployment.md).
      if (route !== undefined && GATEWAY_ONLY.some((prefix) => route.startsWith(prefix)) && !ROUTE_QUESTION.test(route)) {
        throw new LightsoutError('NOT_FOUND', 'this replica is a manager: agents and console streams connect to a gateway', { hint: 'use a gateway of the region (the session answer names its stream URL)' });
      }
    });
  }
}

export default fp(clusterPlugin, { name: 'lightsout-cluster', dependencies: ['lightsout-config', 'lightsout-store'] });
