import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PowerRequest, PowerResult } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { powerPermission } from '../access/permissions.js';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

/**
 * `status` reads; `on` needs operator; off, cycle and reset are destructive
 * (step-up). The access hook runs `of` on the body the schema validated; the
 * hook's request is untyped, so the body is named here.
 */
const powerAction = { least: 'power.read', of: (request: FastifyRequest<{ Body: PowerRequest }>) => powerPermission(request.body.action) } as const;

/**
 * `POST /v1/servers/:id/power`: read the power state or act on it through the
 * owning agent (plugins/power.ts decorates the confirmation of an action).
 */
export default async function powerRoutesPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post('/v1/servers/:id/power', { config: { permission: powerAction }, schema: { ...serverTag, params: ServerParams, body: PowerRequest, response: { 200: PowerResult, ...serverErrors } } }, async (request) => {
    const { action } = request.body;
    return action === 'status' ? app.serverOperations.powerStatus(request, request.params.id) : app.serverOperations.powerAction(request, request.params.id, action);
  });
}
