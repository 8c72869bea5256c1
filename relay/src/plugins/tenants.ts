import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LightsoutError, TenantCreate, TenantList, TenantView } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { iso, tagged, tenancyErrors } from '../tenancy/route-schemas.js';

/** `GET|POST /v1/tenants`: provider admins list and create tenants (audited). */
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
}
