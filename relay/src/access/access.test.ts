import { type JWK, SignJWT, decodeJwt, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProviderSecrets } from '../identity/keys.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { base32Decode, totp } from '../identity/totp.js';
import { applyInventory } from '../inventory/apply.js';
import { hashApiToken } from './api-tokens.js';

let relay: RunningRelay;
let admin: string;
let operator: string;
let operatorClaims: Record<string, unknown>;
let edKey: JWK;

async function call(method: string, url: string, authorization: string | undefined, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: authorization === undefined ? {} : { authorization: authorization.startsWith('Bearer ') ? authorization : `Bearer ${authorization}` }, ...(payload === undefined ? {} : { payload }) });
  return { status: response.statusCode, body: (response.body === '' ? {} : response.json()) as Record<string, unknown> & { code?: string }, headers: response.headers, text: response.body };
}

/** The operator's real token re-signed with the OP key and a chosen auth_time/amr (what an older login looks like). */
async function operatorTokenAuthenticatedAt(authTime: number | undefined, amr: string[] = ['pwd']): Promise<string> {
  const claims: Record<string, unknown> = { ...operatorClaims, amr, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 };
  if (authTime === undefined) delete claims['auth_time'];
  else claims['auth_time'] = authTime;
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' }).sign(await importJWK(edKey, 'EdDSA'));
}

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  operatorClaims = decodeJwt(operator) as Record<string, unknown>;
  edKey = (await readProviderSecrets(relay.app.keyDocuments))!.jwks.keys.find((key) => key.alg === 'EdDSA')!;
  const now = Date.now();
  await relay.app.store.insertInto('agents').values({ id: 'agent-1', name: 'agent-1', region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: now }).execute();
  const server = (id: string, rack: string, labels: Record<string, string>) => ({ id, name: id, tenant_id: 'demo', region: 'eu', datacenter: 'fra1', rack, labels: JSON.stringify(labels), endpoints: '{}', capabilities: '["power"]', agent_id: 'agent-1', power: 'on', reachable: 1, state_at: now, updated_at: now });
  await relay.app.store.insertInto('servers').values([server('web-1', 'r1', { role: 'web' }), server('db-1', 'r2', { role: 'db' }), server('db-2', 'r2', {})]).execute();
}, 60_000);
afterAll(async () => {
  await relay.close();
});

describe('step-up (RFC 9470) on destructive actions', () => {
  it('a sign-in older than max_age gets STEP_UP_REQUIRED with the standard challenge; non-destructive actions pass', async () => {
    const stale = await operatorTokenAuthenticatedAt(Math.floor(Date.now() / 1000) - 3600);
    for (const action of ['off', 'cycle', 'reset']) {
      const refused = await call('POST', '/v1/servers/web-1/power', stale, { action });
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('STEP_UP_REQUIRED');
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="lightsout", error="insufficient_user_authentication", error_description="a recent authentication is required", max_age=600');
    }
    // Media mount is destructive too; refused and audited by the access plugin.
    expect((await call('POST', '/v1/servers/web-1/media', stale, { uploadId: '0'.repeat(32) })).body.code).toBe('STEP_UP_REQUIRED');
    expect(await relay.app.store.selectFrom('audit').select(['action', 'outcome', 'target']).where('action', '=', 'media.mount').execute()).toEqual([{ action: 'media.mount', outcome: 'denied', target: 'server:web-1' }]);
    // Power on is not destructive: it passes step-up and reaches the (offline) agent.
    expect((await call('POST', '/v1/servers/web-1/power', stale, { action: 'on' })).body.code).toBe('AGENT_OFFLINE');
    // A token without auth_time at all is treated as stale.
    expect((await call('POST', '/v1/servers/web-1/power', await operatorTokenAuthenticatedAt(undefined), { action: 'off' })).body.code).toBe('STEP_UP_REQUIRED');
    const audit = await relay.app.store.selectFrom('audit').select(['action', 'outcome']).where('action', '=', 'step-up.power.destructive').execute();
    expect(audit.length).toBeGreaterThanOrEqual(3);
    expect(audit.every((row) => row.outcome === 'denied')).toBe(true);
  });

  it('a fresh sign-in (real login: auth_time and amr in the access token) passes', async () => {
    expect(decodeJwt(operator)).toMatchObject({ amr: ['pwd'], auth_time: expect.any(Number) });
    expect((await call('POST', '/v1/servers/web-1/power', operator, { action: 'off' })).body.code).toBe('AGENT_OFFLINE');
  });

  it('a tenant that requires MFA refuses a password-only sign-in and accepts one with otp', async () => {
    // Required the way a provider admin does it (PATCH /v1/tenants/:id), from the next request on.
    expect((await call('PATCH', '/v1/tenants/demo', operator, { requireMfa: true })).status).toBe(403);
    const changed = await call('PATCH', '/v1/tenants/demo', admin, { requireMfa: true });
    expect(changed).toMatchObject({ status: 200, body: { id: 'demo', requireMfa: true } });
    expect((await call('PATCH', '/v1/tenants/nowhere', admin, { requireMfa: true })).body.code).toBe('NOT_FOUND');
    expect((await call('PATCH', '/v1/tenants/demo', admin, { requireMfa: 'yes' })).body.code).toBe('VALIDATION_FAILED');
    expect(await relay.app.store.selectFrom('audit').select(['action', 'target', 'details']).where('action', '=', 'tenant.update').execute()).toEqual([
      { action: 'tenant.update', target: 'tenant:demo', details: JSON.stringify({ name: null, requireMfa: true, before: { name: 'Demo tenant', requireMfa: false } }) },
    ]);
    try {
      const refused = await call('POST', '/v1/servers/web-1/power', operator, { action: 'reset' });
      expect(refused.body.code).toBe('STEP_UP_REQUIRED');
      expect(refused.headers['www-authenticate']).toContain('acr_values="mfa"');
      const withOtp = await operatorTokenAuthenticatedAt(Math.floor(Date.now() / 1000), ['pwd', 'otp']);
      expect((await call('POST', '/v1/servers/web-1/power', withOtp, { action: 'reset' })).body.code).toBe('AGENT_OFFLINE');
    } finally {
      await relay.app.store.updateTable('tenants').set({ require_mfa: 0 }).where('id', '=', 'demo').execute();
    }
  });
});

describe('grants narrow a user to a server group', () => {
  it('a rack grant shows only that rack in lists and answers NOT_FOUND for the rest', async () => {
    const users = await call('GET', '/v1/users?tenant=demo', admin);
    const operatorId = (users.body['users'] as Array<{ id: string; username: string }>).find((user) => user.username === 'operator')!.id;
    expect((await call('GET', '/v1/servers', operator)).body['servers']).toHaveLength(3);
    const grant = await call('POST', '/v1/grants', admin, { userId: operatorId, selector: { kind: 'rack', rack: 'r2' } });
    expect(grant.status).toBe(201);
    try {
      expect((await call('GET', '/v1/servers', operator)).body['servers']).toEqual([expect.objectContaining({ id: 'db-1' }), expect.objectContaining({ id: 'db-2' })]);
      expect((await call('GET', '/v1/servers/web-1', operator)).body.code).toBe('NOT_FOUND');
      expect((await call('GET', '/v1/servers/db-1', operator)).status).toBe(200);
      // Grants add up: a label grant brings web-1 back.
      const label = await call('POST', '/v1/grants', admin, { userId: operatorId, selector: { kind: 'label', key: 'role', value: 'web' } });
      expect((await call('GET', '/v1/servers', operator)).body['servers']).toHaveLength(3);
      expect((await call('DELETE', `/v1/grants/${String(label.body['id'])}`, admin)).status).toBe(204);
      expect((await call('GET', '/v1/servers/web-1', operator)).body.code).toBe('NOT_FOUND');
    } finally {
      await call('DELETE', `/v1/grants/${String(grant.body['id'])}`, admin);
    }
    expect((await call('GET', '/v1/servers', operator)).body['servers']).toHaveLength(3);
  });
});

describe('service-account API tokens', () => {
  it('are shown once, stored only as SHA-256, act with their role in their tenant, and stop working when revoked', async () => {
    const created = await call('POST', '/v1/tokens', admin, { name: 'ci-reboots', role: 'operator', tenant: 'demo', ttlSeconds: 3600 });
    expect(created.status).toBe(201);
    const token = String(created.body['token']);
    expect(token).toMatch(/^lso_[A-Za-z0-9_-]{43}$/);
    const stored = await relay.app.store.selectFrom('api_tokens').selectAll().where('id', '=', String(created.body['id'])).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(hashApiToken(token));
    expect(JSON.stringify(stored)).not.toContain(token.slice(4));
    const listed = await call('GET', '/v1/tokens?tenant=demo', admin);
    expect(listed.text).not.toContain(token.slice(4));

    const me = await call('GET', '/v1/me', token);
    expect(me.body).toMatchObject({ tenant: 'demo', role: 'operator', username: 'token:ci-reboots', issuer: 'lightsout-api-token' });
    expect((await call('GET', '/v1/servers', token)).body['servers']).toHaveLength(3);
    // Its role is the whole decision: no interactive step-up for a machine (docs/security.md).
    expect((await call('POST', '/v1/servers/web-1/power', token, { action: 'off' })).body.code).toBe('AGENT_OFFLINE');
    expect((await call('GET', '/v1/users', token)).status).toBe(403);
    expect((await call('POST', '/v1/tokens', token, { name: 'more', role: 'viewer' })).status).toBe(403);

    const revoked = await call('POST', `/v1/tokens/${String(created.body['id'])}/revoke`, admin);
    expect(revoked.status).toBe(200);
    expect(await call('GET', '/v1/me', token)).toMatchObject({ status: 401, body: { code: 'TOKEN_INVALID' } });
    const actions = (await relay.app.store.selectFrom('audit').select('action').where('target', '=', `token:${String(created.body['id'])}`).execute()).map((row) => row.action);
    expect(actions).toEqual(['token.create', 'token.revoke']);
  });

  it('expire, and cannot be minted above the creator\'s role or in another tenant by a tenant admin', async () => {
    const created = await call('POST', '/v1/tokens', admin, { name: 'short', role: 'viewer', tenant: 'demo', ttlSeconds: 60 });
    await relay.app.store.updateTable('api_tokens').set({ expires_at: Date.now() - 1 }).where('id', '=', String(created.body['id'])).execute();
    expect(await call('GET', '/v1/me', String(created.body['token']))).toMatchObject({ status: 401, body: { code: 'TOKEN_EXPIRED' } });
    expect((await call('POST', '/v1/tokens', admin, { name: 'cross', role: 'provider-admin', tenant: 'demo' })).status).toBe(403);
    const tenantAdminToken = String((await call('POST', '/v1/tokens', admin, { name: 'demo-admin', role: 'tenant-admin', tenant: 'demo' })).body['token']);
    expect((await call('POST', '/v1/tokens', tenantAdminToken, { name: 'x', role: 'viewer' })).status).toBe(403); // tokens cannot mint tokens
    expect((await call('GET', '/v1/tokens?tenant=provider', tenantAdminToken)).status).toBe(403);
    expect((await call('GET', '/v1/audit', tenantAdminToken)).body['records']).toEqual(expect.arrayContaining([expect.objectContaining({ tenant: 'demo' })]));
    expect(((await call('GET', '/v1/audit', tenantAdminToken)).body['records'] as Array<{ tenant: string }>).every((record) => record.tenant === 'demo')).toBe(true);
  });
});

describe('users', () => {
  it('a tenant admin creates users in their tenant only, never above their role; disabling one revokes it at once', async () => {
    const tenantAdmin = await call('POST', '/v1/users', admin, { username: 'demo-admin', password: 'demo-admin-password', role: 'tenant-admin', tenant: 'demo' });
    expect(tenantAdmin.status).toBe(201);
    const tenantAdminToken = (await loginWithPassword(relay.url, 'demo-admin', 'demo-admin-password')).accessToken;
    expect((await call('POST', '/v1/users', tenantAdminToken, { username: 'escalate', password: 'escalate-password', role: 'provider-admin' })).status).toBe(403);
    expect((await call('POST', '/v1/users', tenantAdminToken, { username: 'elsewhere', password: 'elsewhere-password', role: 'viewer', tenant: 'provider' })).status).toBe(403);
    const viewer = await call('POST', '/v1/users', tenantAdminToken, { username: 'demo-viewer', password: 'demo-viewer-password', role: 'viewer' });
    expect(viewer.body).toMatchObject({ tenant: 'demo', role: 'viewer', mfa: false });
    const viewerToken = (await loginWithPassword(relay.url, 'demo-viewer', 'demo-viewer-password')).accessToken;
    expect((await call('GET', '/v1/me', viewerToken)).status).toBe(200);
    const heard: string[] = [];
    const unsubscribe = relay.app.revocations.subscribe((notice) => notice.kind === 'subject' && heard.push(notice.subject));
    try {
      expect((await call('PATCH', `/v1/users/${String(viewer.body['id'])}`, tenantAdminToken, { disabled: true })).status).toBe(200);
    } finally {
      unsubscribe();
    }
    expect(heard).toEqual([viewer.body['id']]);
    expect(await call('GET', '/v1/me', viewerToken)).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
  });
});

describe('TOTP second factor', () => {
  it('enrolls with a confirmed code, then login needs the code, amr says otp, and an MFA tenant accepts it for step-up', async () => {
    const started = await call('POST', '/v1/me/totp', operator, { password: relay.credentials.operator.password });
    expect(started.status).toBe(201);
    expect(String(started.body['otpauthUri'])).toMatch(/^otpauth:\/\/totp\/Lightsout:operator\?secret=[A-Z2-7]{32}&/);
    const secret = base32Decode(String(started.body['secret']));
    const now = () => Math.floor(Date.now() / 1000);
    expect((await call('POST', '/v1/me/totp/confirm', operator, { code: totp(secret, now() + 300) })).status).toBe(400);
    // The previous step's code confirms (one step of skew): the current one is then still unused for the sign-in below.
    expect((await call('POST', '/v1/me/totp/confirm', operator, { code: totp(secret, now() - 30) })).status).toBe(200);
    await expect(loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { otp: totp(secret, now() + 300) })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const withOtp = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { otp: totp(secret, now()) })).accessToken;
    expect(decodeJwt(withOtp)['amr']).toEqual(['pwd', 'otp', 'mfa']);
    await relay.app.store.updateTable('tenants').set({ require_mfa: 1 }).where('id', '=', 'demo').execute();
    try {
      expect((await call('POST', '/v1/servers/web-1/power', withOtp, { action: 'off' })).body.code).toBe('AGENT_OFFLINE');
      expect((await call('POST', '/v1/servers/web-1/power', operator, { action: 'off' })).body.code).toBe('STEP_UP_REQUIRED');
    } finally {
      await relay.app.store.updateTable('tenants').set({ require_mfa: 0 }).where('id', '=', 'demo').execute();
    }
    // Removing the factor needs a sign-in with it: the password-only token is refused, the otp one works.
    expect((await call('DELETE', '/v1/me/totp', operator)).body.code).toBe('STEP_UP_REQUIRED');
    expect((await call('DELETE', '/v1/me/totp', withOtp)).status).toBe(204);
    expect((await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken).toBeTruthy();
    const actions = (await relay.app.store.selectFrom('audit').select(['action', 'outcome']).where('action', 'like', 'mfa.%').execute()).map((row) => `${row.action}:${row.outcome}`);
    expect(actions).toEqual(['mfa.enroll-start:success', 'mfa.enroll:failure', 'mfa.enroll:success', 'mfa.remove:success']);
  });
});

describe('provider admins assign servers to tenants', () => {
  it('moves a server to another tenant; the agent\'s next inventory cannot move it back; only provider admins may', async () => {
    await relay.app.store.insertInto('tenants').values({ id: 'acme', name: 'Acme', created_at: Date.now() }).execute();
    expect((await call('PUT', '/v1/servers/db-2/tenant', operator, { tenant: 'acme' })).status).toBe(403);
    expect((await call('PUT', '/v1/servers/db-2/tenant', admin, { tenant: 'nope' })).body.code).toBe('NOT_FOUND');
    expect((await call('PUT', '/v1/servers/db-2/tenant', admin, { tenant: 'acme' })).body).toEqual({ id: 'db-2', tenant: 'acme' });
    expect((await call('GET', '/v1/servers/db-2', operator)).body.code).toBe('NOT_FOUND');
    const registration = (id: string, rack: string) => ({ id, name: id, tenant: 'demo', rack, endpoints: {}, capabilities: ['power' as const] });
    await applyInventory(relay.app.store, { id: 'agent-1', region: 'eu', datacenter: 'fra1', tenants: ['demo'] }, [registration('web-1', 'r1'), registration('db-1', 'r2'), registration('db-2', 'r2')]);
    const tenants = await relay.app.store.selectFrom('servers').select(['id', 'tenant_id']).orderBy('id').execute();
    expect(tenants).toEqual([{ id: 'db-1', tenant_id: 'demo' }, { id: 'db-2', tenant_id: 'acme' }, { id: 'web-1', tenant_id: 'demo' }]);
    expect(await relay.app.store.selectFrom('audit').select(['action', 'target']).where('action', '=', 'server.assign').execute()).toEqual([{ action: 'server.assign', target: 'server:db-2' }]);
  });
});
