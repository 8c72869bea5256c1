import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LightsoutError, TenantCreate, TenantList, TenantUpdate, TenantView } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { iso, tagged, tenancyErrors } from '../tenancy/route-schemas.js';

/**
 * `GET|POST /v1/tenants`, `PATCH /v1/tenants/:tenantId`: provider admins
 * list, create and change tenants (audited). The second-factor requirement is
 * read on every sign-in and step-up (access/step-up.ts), so a change applies
 * from the next one.
 */
export default async function tenantsPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/tenants', { config: { permission: 'tenants.manage' }, schema: { ...tagged('tenants'), response: { 200: TenantList, ...tenancyErrors } } }, async () => {
    const rows = await app.store.selectFrom('tenants').selectAll().orderBy('id').execute();
    return { tenants: rows.map((row) => ({ id: row.id, name: row.name, requireMfa: row.require_mfa === 1, createdAt: iso(row.created_at) })) };
  });

  api.post('/v1/tenants', { config: { permission: 'tenants.manage' }, schema: { ...tagged('tenants'), body: TenantCreate, response: { 201: TenantView, ...tenancyErrors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { body } = request;
    const existing = await app.store.selectFrom('tenants').select('id').where('id', '=', body.id).executeTakeFirst();
    if (existing !== undefined) throw new LightsoutError('CONFLICT', `tenant ${body.id} exists`);
    const row = { id: body.id, name: body.name, created_at: Date.now(), require_mfa: body.requireMfa === true ? 1 : 0 };
    await app.store.insertInto('tenants').values(row).execute();
    await app.audit.fromRequest(request, { action: 'tenant.create', outcome: 'success', subject: principal.subject, tenant: body.id, target: `tenant:${body.id}`, details: { requireMfa: body.requireMfa === true } });
    return reply.status(201).send({ id: row.id, name: row.name, requireMfa: row.require_mfa === 1, createdAt: iso(row.created_at) });
  });

  api.patch('/v1/tenants/:tenantId', { config: { permission: 'tenants.manage' }, schema: { ...tagged('tenants'), params: Type.Object({ tenantId: Type.String({ maxLength: 63 }) }), body: TenantUpdate, response: { 200: TenantView, ...tenancyErrors } } }, async (request) => {
    const principal = request.principal!;
    const { tenantId } = request.params;
    const { body } = request;
    const before = await app.store.selectFrom('tenants').selectAll().where('id', '=', tenantId).executeTakeFirst();
    if (before === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${tenantId}`);
    const changes: { name?: string; require_mfa?: number } = {};
    if (body.name !== undefined) changes.name = body.name;
    if (body.requireMfa !== undefined) changes.require_mfa = body.requireMfa ? 1 : 0;
    if (Object.keys(changes).length > 0) await app.store.updateTable('tenants').set(changes).where('id', '=', tenantId).execute();
    const after = { ...before, ...changes };
    await app.audit.fromRequest(request, {
      action: 'tenant.update',
      outcome: 'success',
      subject: principal.subject,
      tenant: tenantId,
      target: `tenant:${tenantId}`,
      details: { name: body.name ?? null, requireMfa: body.requireMfa ?? null, before: { name: before.name, requireMfa: before.require_mfa === 1 } },
    });
    return { id: after.id, name: after.name, requireMfa: after.require_mfa === 1, createdAt: iso(after.created_at) };
  });
}
