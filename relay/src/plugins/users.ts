import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LightsoutError, type Role, UserCreate, UserList, UserUpdate, UserView } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { assignableRoles } from '../access/permissions.js';
import { sameTenantOr404, targetTenant } from '../access/guards.js';
import { requireStrongPassword } from '../identity/password-policy.js';
import { hashPassword } from '../identity/passwords.js';
import type { UserTable } from '../store/database.js';
import { TenantQuery, iso, tagged, tenancyErrors } from '../tenancy/route-schemas.js';

function userView(row: Pick<UserTable, 'id' | 'tenant_id' | 'username' | 'role' | 'disabled' | 'created_at'> & { totp_secret: string | null }): UserView {
  return { id: row.id, tenant: row.tenant_id, username: row.username, role: row.role as Role, disabled: row.disabled !== 0, mfa: row.totp_secret !== null, createdAt: iso(row.created_at) };
}

function checkAssignable(actor: Role, role: Role): void {
  if (!assignableRoles(actor).includes(role)) throw new LightsoutError('FORBIDDEN', `a ${actor} cannot hand out the ${role} role`);
}

/**
 * `GET|POST /v1/users`, `PATCH /v1/users/:userId`. Tenant admins manage the
 * users of their own tenant; provider admins may act in any (`?tenant=` /
 * body `tenant`). Every change is audited; a new password or a disable ends
 * the user's sign-ins, a role change their live sessions.
 */
export default async function usersPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/users', { config: { permission: 'users.manage' }, schema: { ...tagged('users'), querystring: TenantQuery, response: { 200: UserList, ...tenancyErrors } } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, request.query.tenant);
    const rows = await app.store.selectFrom('users').select(['id', 'tenant_id', 'username', 'role', 'disabled', 'created_at', 'totp_secret']).where('tenant_id', '=', tenant).orderBy('username').execute();
    return { users: rows.map(userView) };
  });

  api.post('/v1/users', { config: { permission: 'users.manage' }, schema: { ...tagged('users'), body: UserCreate, response: { 201: UserView, ...tenancyErrors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { body } = request;
    const tenant = targetTenant(principal, body.tenant);
    checkAssignable(principal.role, body.role);
    if (body.role === 'provider-admin' && tenant !== principal.tenant) throw new LightsoutError('FORBIDDEN', 'provider admins belong to the provider tenant');
    const known = await app.store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst();
    if (known === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${tenant}`);
    // Unique within the tenant only: another tenant's names are none of this admin's business.
    const taken = await app.store.selectFrom('users').select('id').where('tenant_id', '=', tenant).where('username', '=', body.username).executeTakeFirst();
    if (taken !== undefined) throw new LightsoutError('CONFLICT', `tenant ${tenant} already has a user ${body.username}`);
    requireStrongPassword(body.password, { username: body.username, tenant });
    const row = { id: randomUUID(), tenant_id: tenant, username: body.username, password_hash: await hashPassword(body.password), role: body.role, disabled: 0, created_at: Date.now() };
    await app.store.insertInto('users').values(row).execute();
    await app.audit.fromRequest(request, { action: 'user.create', outcome: 'success', subject: principal.subject, tenant, target: `user:${body.username}`, details: { role: body.role } });
    return reply.status(201).send(userView({ ...row, totp_secret: null }));
  });

  api.patch('/v1/users/:userId', { config: { permission: 'users.manage' }, schema: { ...tagged('users'), params: Type.Object({ userId: Type.String({ maxLength: 64 }) }), body: UserUpdate, response: { 200: UserView, ...tenancyErrors } } }, async (request) => {
    const principal = request.principal!;
    const { userId } = request.params;
    const { body } = request;
    const row = await app.store.selectFrom('users').select(['id', 'tenant_id', 'username', 'role', 'disabled', 'created_at', 'totp_secret']).where('id', '=', userId).executeTakeFirst();
    sameTenantOr404(principal, row?.tenant_id, `user ${userId}`);
    checkAssignable(principal.role, row!.role as Role);
    if (body.role !== undefined) checkAssignable(principal.role, body.role);
    // Same rule as creating one: provider admins belong to the provider tenant.
    if (body.role === 'provider-admin' && row!.tenant_id !== principal.tenant) throw new LightsoutError('FORBIDDEN', 'provider admins belong to the provider tenant');
    const changes: { role?: string; disabled?: number; password_hash?: string; credentials_changed_at?: number } = {};
    if (body.role !== undefined) changes.role = body.role;
    if (body.disabled !== undefined) changes.disabled = body.disabled ? 1 : 0;
    if (body.password !== undefined) {
      requireStrongPassword(body.password, { username: row!.username, tenant: row!.tenant_id });
      changes.password_hash = await hashPassword(body.password);
    }
    const endsSignIns = body.password !== undefined || body.disabled === true;
    if (endsSignIns) changes.credentials_changed_at = Date.now();
    if (Object.keys(changes).length > 0) await app.store.updateTable('users').set(changes).where('id', '=', userId).execute();
    await app.audit.fromRequest(request, { action: 'user.update', outcome: 'success', subject: principal.subject, tenant: row!.tenant_id, target: `user:${row!.username}`, details: { role: body.role ?? null, disabled: body.disabled ?? null, passwordChanged: body.password !== undefined } });
    // A new password or a disable ends every sign-in made before it (refresh tokens, OP sessions,
    // grants and so access tokens, live connections: a stolen session must not outlive the reset);
    // a role change is read from the users table on every request, and live streams hear it here.
    if (endsSignIns) await app.identity.endSignIns(userId, body.disabled === true ? 'user disabled' : 'password changed');
    else if (body.role !== undefined && body.role !== row!.role) await app.revocations.revoke(userId, 'role changed');
    return userView({ ...row!, ...changes });
  });
}
