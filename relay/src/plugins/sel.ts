import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SelList } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

/** `GET|DELETE /v1/servers/:id/sel`: the BMC's system event log, read and cleared through the owning agent. */
export default async function selPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/servers/:id/sel', { config: { permission: 'servers.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: SelList, ...serverErrors } } }, async (request) =>
    app.serverOperations.eventLog(request, request.params.id),
  );

  // Typed by its generic, not the provider: the provider would type the 204's send() as needing the schema's null body.
  app.delete<{ Params: ServerParams }>('/v1/servers/:id/sel', { config: { permission: 'sel.clear' }, schema: { ...serverTag, params: ServerParams, response: { 204: Type.Null(), ...serverErrors } } }, async (request, reply) => {
    const server = await app.serverOperations.get(request, request.params.id);
    await app.serverOperations.clearEventLog(request, server.id);
    app.fleetEvents.forget(server);
    return reply.status(204).send();
  });
}
