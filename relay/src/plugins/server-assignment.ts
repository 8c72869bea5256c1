import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LightsoutError, Slug } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { tagged, tenancyErrors } from '../tenancy/route-schemas.js';

/**
 * `PUT /v1/servers/:id/tenant`: a provider admin moves a server to another
 * tenant. Audited; the old tenant loses it at once on every relay (consoles,
 * resume tokens, recordings, mounts) and in its watchers' feeds.
 */
export default async function serverAssignmentPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.put('/v1/servers/:id/tenant', { config: { permission: 'servers.assign' }, schema: { ...tagged('tenants'), params: Type.Object({ id: Type.String({ maxLength: 63 }) }), body: Type.Object({ tenant: Slug }, { additionalProperties: false }), response: { 200: Type.Object({ id: Type.String(), tenant: Slug }), ...tenancyErrors } } }, async (request) => {
    const principal = request.principal!;
    const { id } = request.params;
    const { tenant } = request.body;
    const server = await app.store.selectFrom('servers').select(['id', 'tenant_id', 'agent_id']).where('id', '=', id).executeTakeFirst();
    if (server === undefined) throw new LightsoutError('NOT_FOUND', `no server ${id}`);
    if ((await app.store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst()) === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${tenant}`);
    const now = Date.now();
    await app.store.transaction().execute(async (transaction) => {
      await transaction.insertInto('server_assignments').values({ server_id: id, tenant_id: tenant, assigned_by: principal.subject, assigned_at: now }).onConflict((conflict) => conflict.column('server_id').doUpdateSet({ tenant_id: tenant, assigned_by: principal.subject, assigned_at: now })).execute();
      await transaction.updateTable('servers').set({ tenant_id: tenant, updated_at: now }).where('id', '=', id).execute();
    });
    await app.audit.fromRequest(request, { action: 'server.assign', outcome: 'success', subject: principal.subject, tenant, target: `server:${id}`, details: { from: server.tenant_id, to: tenant } });
    // Every relay ends the old tenant's consoles, resume tokens, recordings and mounts on it, now.
    if (server.tenant_id !== tenant) await app.revocations.serverMoved({ serverId: id, agentId: server.agent_id, from: server.tenant_id, to: tenant, by: principal.subject });
    // The feed coalesces per id, so one notice: the old tenant's watchers must lose the server
    // (the new tenant's see it on their next snapshot).
    if (server.tenant_id !== tenant) app.serverEvents.serversRemoved([{ id, tenant: server.tenant_id }]);
    else app.serverEvents.serversChanged([id]);
    return { id, tenant };
  });
}
