import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ServerIdentity } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

/**
 * `GET /v1/servers/:id/identity`: what the BMC says the machine is (vendor,
 * model, serial, BMC firmware, BIOS version), asked of the owning agent, which
 * alone holds the BMC's credentials. Reading it is as sensitive as reading
 * sensors, so it takes the same permission.
 */
export default async function hardwareIdentityPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/servers/:id/identity', { config: { permission: 'sensors.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: ServerIdentity, ...serverErrors } } }, async (request) =>
    app.serverOperations.identity(request, request.params.id),
  );
}
