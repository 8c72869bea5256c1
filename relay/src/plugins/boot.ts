import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { BootOverride, BootRequest, BootResult } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

/** `GET|POST /v1/servers/:id/boot`: the next-boot override, read from and set on the BMC through the owning agent. */
export default async function bootPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/servers/:id/boot', { config: { permission: 'servers.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: BootOverride, ...serverErrors } } }, async (request) =>
    app.serverOperations.getBoot(request, request.params.id),
  );

  api.post('/v1/servers/:id/boot', { config: { permission: 'boot.set' }, schema: { ...serverTag, params: ServerParams, body: BootRequest, response: { 200: BootResult, ...serverErrors } } }, async (request) =>
    app.serverOperations.setBoot(request, request.params.id, request.body),
  );
}
