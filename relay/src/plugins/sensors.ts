import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SensorHistory, SensorList } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

/**
 * `GET /v1/servers/:id/sensors`: the BMC's sensor readings through the owning
 * agent. `GET /v1/servers/:id/sensors/history`: the readings that agent kept
 * (docs/desktop.md, server page), asked through the same routing, so every
 * replica answers it wherever the agent is connected.
 */
export default async function sensorsPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/servers/:id/sensors', { config: { permission: 'sensors.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: SensorList, ...serverErrors } } }, async (request) =>
    app.serverOperations.sensors(request, request.params.id),
  );
  api.get('/v1/servers/:id/sensors/history', { config: { permission: 'sensors.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: SensorHistory, ...serverErrors } } }, async (request) =>
    app.serverOperations.sensorHistory(request, request.params.id),
  );
}
