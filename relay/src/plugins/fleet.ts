import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FleetEvents, FleetSummary } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { FleetEventReader } from '../inventory/fleet-events.js';
import { summarizeFleet } from '../inventory/fleet-summary.js';
import { serverErrors, serverTag } from '../inventory/route-schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The fleet's critical event-log entries, read through the agents on demand (inventory/fleet-events.ts). */
    fleetEvents: FleetEventReader;
  }
}

/** Logs read for one request, so an overview never sends a burst at a large fleet's BMCs: 10,000 servers take about 157 requests to be read once. */
const EVENT_LOG_READS_PER_REQUEST = 64;
const EVENT_LOG_CONCURRENCY = 8;
/** The fairness subject of these reads: the relay's own, so an overview does not spend its viewer's BMC-operation budget. */
const READER_SUBJECT = 'relay:fleet-events';

/**
 * `GET /v1/fleet/summary`: the fleet overview's counts, over the servers the
 * caller may see (the same list as GET /v1/servers: tenant, grants). One
 * answer computed here, so a console with 10,000 servers does not count them
 * in the browser on every change.
 *
 * `GET /v1/fleet/events`: the newest critical event-log entries of those
 * servers, with the same permission as a server's own event log.
 */
async function fleetPlugin(app: FastifyInstance): Promise<void> {
  const reader = new FleetEventReader({
    read: async (server) => {
      const release = app.bmcFairness.admit({ subject: READER_SUBJECT, tenant: server.tenant, agentId: server.agentId });
      try {
        return await app.agentRouter.request(server.agentId, 'sel.list', { serverId: server.id });
      } finally {
        release();
      }
    },
    maxAgeMs: app.config.agents.eventLogMaxAgeSeconds * 1000,
    readsPerRequest: EVENT_LOG_READS_PER_REQUEST,
    concurrency: EVENT_LOG_CONCURRENCY,
  });
  app.decorate('fleetEvents', reader);

  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/fleet/summary', { config: { permission: 'servers.read' }, schema: { ...serverTag, response: { 200: FleetSummary, ...serverErrors } } }, async (request) => {
    const servers = await app.serverOperations.list(request);
    return summarizeFleet(servers, new Date());
  });
  api.get('/v1/fleet/events', { config: { permission: 'servers.read' }, schema: { ...serverTag, response: { 200: FleetEvents, ...serverErrors } } }, async (request) =>
    reader.collect(await app.serverOperations.list(request)),
  );
}

export default fp(fleetPlugin, { name: 'fleet' });
