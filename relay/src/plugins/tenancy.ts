import { randomUUID } from 'node:crypto';
import {
  ErrorBodySchema,
  Slug,
  GrantCreate,
  GrantList,
  GrantView,
  LightsoutError,
  type Role,
  TenantCreate,
  TenantList,
  TenantView,
  UserCreate,
  UserList,
  UserUpdate,
  UserView,
} from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { assignableRoles } from '../access/permissions.js';
import { sameTenantOr404, targetTenant } from '../access/guards.js';
import { requireStrongPassword } from '../identity/password-policy.js';
import { hashPassword } from '../identity/passwords.js';
import type { UserTable } from '../store/database.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const secured = (tag: string) => ({ tags: [tag], security: [{ bearer: [] }] });
const iso = (milliseconds: number) => new Date(milliseconds).toISOString();
const TenantQuery = Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 63 })) });

function userView(row: Pick<UserTable, 'id' | 'tenant_id' | 'username' | 'role' | 'disabled' | 'created_at'> & { totp_secret: string | null }): UserView {
  return { id: row.id, tenant: row.tenant_id, username: row.username, role: row.role as Role, disabled: row.disabled !== 0, mfa: row.totp_secret !== null, createdAt: iso(row.created_at) };
}

function checkAssignable(actor: Role, role: Role): void {
  if (!assignableRoles(actor).includes(role)) throw new LightsoutError('FORBIDDEN', `a ${actor} cannot hand out the ${role} role`);
}

/**
 * Tenants, users and grants. Tenant admins manage users and grants of their
 * own tenant; provider admins manage tenants and may act in any tenant
 * (`?tenant=` / body `tenant`). Every change is audited; disabling a user
 * emits a revocation that ends their live console sessions.
 */
export default async function tenancyPlugin(app: FastifyInstance): Promise<void> {
  app.get('/v1/users', { config: { permission: 'users.manage' }, schema: { ...secured('users'), querystring: TenantQuery, response: { 200: UserList, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, (request.query as { tenant?: string }).tenant);
    const rows = await app.store.selectFrom('users').select(['id', 'tenant_id', 'username', 'role', 'disabled', 'created_at', 'totp_secret']).where('tenant_id', '=', tenant).orderBy('username').execute();
    return { users: rows.map(userView) };
  });

  app.post('/v1/users', { config: { permission: 'users.manage' }, schema: { ...secured('users'), body: UserCreate, response: { 201: UserView, ...errors } } }, async (request, reply) => {
    const principal = request.principal!;
    const body = request.body as UserCreate;
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

  app.patch('/v1/users/:userId', { config: { permission: 'users.manage' }, schema: { ...secured('users'), params: Type.Object({ userId: Type.String({ maxLength: 64 }) }), body: UserUpdate, response: { 200: UserView, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const { userId } = request.params as { userId: string };
    const body = request.body as UserUpdate;
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

  app.get('/v1/grants', { config: { permission: 'grants.manage' }, schema: { ...secured('users'), querystring: TenantQuery, response: { 200: GrantList, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, (request.query as { tenant?: string }).tenant);
    const rows = await app.store.selectFrom('grants').selectAll().where('tenant_id', '=', tenant).orderBy('created_at').execute();
    return { grants: rows.map((row) => ({ id: row.id, tenant: row.tenant_id, userId: row.subject, selector: JSON.parse(row.selector) as GrantView['selector'], createdBy: row.created_by, createdAt: iso(row.created_at) })) };
  });

  app.post('/v1/grants', { config: { permission: 'grants.manage' }, schema: { ...secured('users'), body: GrantCreate, response: { 201: GrantView, ...errors } } }, async (request, reply) => {
    const principal = request.principal!;
    const body = request.body as GrantCreate;
    const user = await app.store.selectFrom('users').select(['id', 'tenant_id', 'username']).where('id', '=', body.userId).executeTakeFirst();
    sameTenantOr404(principal, user?.tenant_id, `user ${body.userId}`);
    const row = { id: randomUUID(), tenant_id: user!.tenant_id, subject: user!.id, selector: JSON.stringify(body.selector), created_by: principal.subject, created_at: Date.now() };
    await app.store.insertInto('grants').values(row).execute();
    await app.audit.fromRequest(request, { action: 'grant.create', outcome: 'success', subject: principal.subject, tenant: row.tenant_id, target: `user:${user!.username}`, details: { grant: row.id, selector: body.selector } });
    // Narrowing takes effect on the next request; live sessions outside the new scope end now.
    await app.revocations.revoke(user!.id, 'grants changed');
    return reply.status(201).send({ id: row.id, tenant: row.tenant_id, userId: row.subject, selector: body.selector, createdBy: row.created_by, createdAt: iso(row.created_at) });
  });

  app.delete('/v1/grants/:grantId', { config: { permission: 'grants.manage' }, schema: { ...secured('users'), params: Type.Object({ grantId: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { grantId } = request.params as { grantId: string };
    const row = await app.store.selectFrom('grants').selectAll().where('id', '=', grantId).executeTakeFirst();
    sameTenantOr404(principal, row?.tenant_id, `grant ${grantId}`);
    await app.store.deleteFrom('grants').where('id', '=', grantId).execute();
    await app.audit.fromRequest(request, { action: 'grant.delete', outcome: 'success', subject: principal.subject, tenant: row!.tenant_id, target: `grant:${grantId}` });
    return reply.status(204).send();
  });

  app.put('/v1/servers/:id/tenant', { config: { permission: 'servers.assign' }, schema: { ...secured('tenants'), params: Type.Object({ id: Type.String({ maxLength: 63 }) }), body: Type.Object({ tenant: Slug }, { additionalProperties: false }), response: { 200: Type.Object({ id: Type.String(), tenant: Slug }), ...errors } } }, async (request) => {
    const principal = request.principal!;
    const { id } = request.params as { id: string };
    const { tenant } = request.body as { tenant: string };
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

  app.get('/v1/tenants', { config: { permission: 'tenants.manage' }, schema: { ...secured('tenants'), response: { 200: TenantList, ...errors } } }, async () => {
    const rows = await app.store.selectFrom('tenants').selectAll().orderBy('id').execute();
    return { tenants: rows.map((row) => ({ id: row.id, name: row.name, requireMfa: row.require_mfa === 1, createdAt: iso(row.created_at) })) };
  });

  app.post('/v1/tenants', { config: { permission: 'tenants.manage' }, schema: { ...secured('tenants'), body: TenantCreate, response: { 201: TenantView, ...errors } } }, async (request, reply) => {
    const principal = request.principal!;
    const body = request.body as TenantCreate;
    const existing = await app.store.selectFrom('tenants').select('id').where('id', '=', body.id).executeTakeFirst();
    if (existing !== undefined) throw new LightsoutError('CONFLICT', `tenant ${body.id} exists`);
    const row = { id: body.id, name: body.name, created_at: Date.now(), require_mfa: body.requireMfa === true ? 1 : 0 };
    await app.store.insertInto('tenants').values(row).execute();
    await app.audit.fromRequest(request, { action: 'tenant.create', outcome: 'success', subject: principal.subject, tenant: body.id, target: `tenant:${body.id}`, details: { requireMfa: body.requireMfa === true } });
    return reply.status(201).send({ id: row.id, name: row.name, requireMfa: row.require_mfa === 1, createdAt: iso(row.created_at) });
  });
}
