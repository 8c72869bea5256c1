import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FleetSummary } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { summarizeFleet } from '../inventory/fleet-summary.js';
import { serverErrors, serverTag } from '../inventory/route-schemas.js';

/**
 * `GET /v1/fleet/summary`: the fleet overview's counts, over the servers the
 * caller may see (the same list as GET /v1/servers: tenant, grants). One
 * answer computed here, so a console with 10,000 servers does not count them
 * in the browser on every change.
 */
export default async function fleetPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/fleet/summary', { config: { permission: 'servers.read' }, schema: { ...serverTag, response: { 200: FleetSummary, ...serverErrors } } }, async (request) => {
    const servers = await app.serverOperations.list(request);
    return summarizeFleet(servers, [], new Date());
  });
}
