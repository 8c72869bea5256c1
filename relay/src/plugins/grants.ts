import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { GrantCreate, GrantList, GrantView } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { sameTenantOr404, targetTenant } from '../access/guards.js';
import { GrantParams, TenantQuery, iso, tagged, tenancyErrors } from '../tenancy/route-schemas.js';

/**
 * `GET|POST /v1/grants`, `DELETE /v1/grants/:grantId`: which servers a user
 * may reach, managed by their tenant's admins (provider admins in any
 * tenant). Every change is audited and ends the user's live sessions that
 * fall outside the new scope.
 */
export default async function grantsPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/grants', { config: { permission: 'grants.manage' }, schema: { ...tagged('users'), querystring: TenantQuery, response: { 200: GrantList, ...tenancyErrors } } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, request.query.tenant);
    const rows = await app.store.selectFrom('grants').selectAll().where('tenant_id', '=', tenant).orderBy('created_at').execute();
    return { grants: rows.map((row) => ({ id: row.id, tenant: row.tenant_id, userId: row.subject, selector: JSON.parse(row.selector) as GrantView['selector'], createdBy: row.created_by, createdAt: iso(row.created_at) })) };
  });

  api.post('/v1/grants', { config: { permission: 'grants.manage' }, schema: { ...tagged('users'), body: GrantCreate, response: { 201: GrantView, ...tenancyErrors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { body } = request;
    const user = await app.store.selectFrom('users').select(['id', 'tenant_id', 'username']).where('id', '=', body.userId).executeTakeFirst();
    sameTenantOr404(principal, user?.tenant_id, `user ${body.userId}`);
    const row = { id: randomUUID(), tenant_id: user!.tenant_id, subject: user!.id, selector: JSON.stringify(body.selector), created_by: principal.subject, created_at: Date.now() };
    await app.store.insertInto('grants').values(row).execute();
    await app.audit.fromRequest(request, { action: 'grant.create', outcome: 'success', subject: principal.subject, tenant: row.tenant_id, target: `user:${user!.username}`, details: { grant: row.id, selector: body.selector } });
    // Narrowing takes effect on the next request; live sessions outside the new scope end now.
    await app.revocations.revoke(user!.id, 'grants changed');
    return reply.status(201).send({ id: row.id, tenant: row.tenant_id, userId: row.subject, selector: body.selector, createdBy: row.created_by, createdAt: iso(row.created_at) });
  });

  // Typed by its generic, not the provider: the provider would type the 204's send() as needing the schema's null body.
  app.delete<{ Params: GrantParams }>('/v1/grants/:grantId', { config: { permission: 'grants.manage' }, schema: { ...tagged('users'), params: GrantParams, response: { 204: Type.Null(), ...tenancyErrors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { grantId } = request.params;
    const row = await app.store.selectFrom('grants').selectAll().where('id', '=', grantId).executeTakeFirst();
    sameTenantOr404(principal, row?.tenant_id, `grant ${grantId}`);
    await app.store.deleteFrom('grants').where('id', '=', grantId).execute();
    await app.audit.fromRequest(request, { action: 'grant.delete', outcome: 'success', subject: principal.subject, tenant: row!.tenant_id, target: `grant:${grantId}` });
    return reply.status(204).send();
  });
}
