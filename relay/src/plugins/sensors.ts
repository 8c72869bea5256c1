import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SensorList } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

/** `GET /v1/servers/:id/sensors`: the BMC's sensor readings through the owning agent. */
export default async function sensorsPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/servers/:id/sensors', { config: { permission: 'sensors.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: SensorList, ...serverErrors } } }, async (request) =>
    app.serverOperations.sensors(request, request.params.id),
  );
}
