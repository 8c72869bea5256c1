import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiTokenCreate, ApiTokenCreated, ApiTokenList, type ApiTokenView, ErrorBodySchema, LightsoutError, type Role } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { createApiToken } from '../access/api-tokens.js';
import { sameTenantOr404, targetTenant } from '../access/guards.js';
import { assignableRoles } from '../access/permissions.js';
import type { ApiTokenTable } from '../store/database.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema };
const secured = { tags: ['tokens'], security: [{ bearer: [] }] };
const iso = (milliseconds: number | null) => (milliseconds === null ? null : new Date(milliseconds).toISOString());
const DEFAULT_TTL_SECONDS = 30 * 86_400;

function view(row: ApiTokenTable): ApiTokenView {
  return { id: row.id, tenant: row.tenant_id, name: row.name, role: row.role as Role, createdBy: row.created_by, createdAt: iso(row.created_at)!, expiresAt: iso(row.expires_at)!, revokedAt: iso(row.revoked_at), lastUsedAt: iso(row.last_used_at) };
}

/** Service accounts: `lso_…` API tokens, created by tenant admins for their tenant, shown once, revocable. */
export default async function apiTokensPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/tokens', { config: { permission: 'tokens.manage' }, schema: { ...secured, querystring: Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 63 })) }), response: { 200: ApiTokenList, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, request.query.tenant);
    const rows = await app.store.selectFrom('api_tokens').selectAll().where('tenant_id', '=', tenant).orderBy('created_at').execute();
    return { tokens: rows.map(view) };
  });

  api.post('/v1/tokens', { config: { permission: 'tokens.manage' }, schema: { ...secured, body: ApiTokenCreate, response: { 201: ApiTokenCreated, ...errors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { body } = request;
    const tenant = targetTenant(principal, body.tenant);
    if (!assignableRoles(principal.role).includes(body.role) || (body.role === 'provider-admin' && tenant !== principal.tenant)) {
      throw new LightsoutError('FORBIDDEN', `a ${principal.role} cannot create a ${body.role} token here`);
    }
    const { token, row } = await createApiToken(app.store, { tenant, name: body.name, role: body.role, ttlSeconds: body.ttlSeconds ?? DEFAULT_TTL_SECONDS, createdBy: principal.subject });
    await app.audit.fromRequest(request, { action: 'token.create', outcome: 'success', subject: principal.subject, tenant, target: `token:${row.id}`, details: { name: body.name, role: body.role, expiresAt: iso(row.expires_at) } });
    return reply.status(201).send({ ...view(row), token });
  });

  api.post('/v1/tokens/:tokenId/revoke', { config: { permission: 'tokens.manage' }, schema: { ...secured, params: Type.Object({ tokenId: Type.String({ maxLength: 64 }) }), response: { 200: Type.Object({ id: Type.String(), revokedAt: Type.String() }), ...errors } } }, async (request) => {
    const principal = request.principal!;
    const { tokenId } = request.params;
    const row = await app.store.selectFrom('api_tokens').selectAll().where('id', '=', tokenId).executeTakeFirst();
    sameTenantOr404(principal, row?.tenant_id, `token ${tokenId}`);
    const now = row!.revoked_at ?? Date.now();
    if (row!.revoked_at === null) await app.store.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', tokenId).execute();
    await app.audit.fromRequest(request, { action: 'token.revoke', outcome: 'success', subject: principal.subject, tenant: row!.tenant_id, target: `token:${tokenId}` });
    await app.revocations.revoke(`svc:${tokenId}`, 'API token revoked');
    return { id: tokenId, revokedAt: iso(now)! };
  });
}
