import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, MockIssuer, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * External issuer against an independent OpenID Connect implementation
 * (oauth2-mock-server): its discovery, JWKS and token shapes (typ JWT, no
 * auth_time), not only another Lightsout relay's.
 */
const AUDIENCE = 'https://relay.lightsout.test/v1';

function externalConfig(issuer: MockIssuer, external: Record<string, unknown> = {}): Record<string, unknown> {
  return { identity: { mode: 'external', audience: AUDIENCE, external: { issuer: issuer.url, ...external } } };
}

function claims(tenant: string, role: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: `${tenant}-${role}`, aud: AUDIENCE, tenant, role, preferred_username: `${role}@${tenant}`, ...extra };
}

async function call(relay: RunningRelay, method: string, url: string, token: string | undefined, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  const body = response.headers['content-type']?.includes('json') ? (response.json() as Record<string, unknown>) : {};
  return { status: response.statusCode, code: body['code'] as string | undefined, body, headers: response.headers };
}

async function addServer(relay: RunningRelay, tenant: string, id: string): Promise<void> {
  const now = Date.now();
  await relay.app.store.insertInto('agents').values({ id: `agent-${id}`, name: `agent-${id}`, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: now }).execute();
  await relay.app.store.insertInto('servers').values({ id, name: id, tenant_id: tenant, region: 'eu', datacenter: 'fra1', rack: 'r1', labels: '{}', endpoints: '{}', capabilities: '["power"]', agent_id: `agent-${id}`, power: 'on', reachable: 1, state_at: now, updated_at: now }).execute();
}

describe('external issuer (oauth2-mock-server): strict defaults', () => {
  let issuer: MockIssuer;
  let relay: RunningRelay;
  const accessToken = (tenant: string, role: string, extra: Record<string, unknown> = {}, options: { expiresIn?: number } = {}) =>
    issuer.token(claims(tenant, role, extra), { header: { typ: 'at+jwt' }, ...options });

  beforeAll(async () => {
    issuer = await MockIssuer.create();
    relay = await startRelay({ config: externalConfig(issuer) });
  });
  afterAll(async () => {
    await relay.close();
    await issuer.stop();
  });

  it('a fresh install: the provider tenant exists, so its admin can create the first customer tenant', async () => {
    expect(await call(relay, 'GET', '/v1/me', await accessToken('provider', 'provider-admin'))).toMatchObject({ status: 200, body: { tenant: 'provider', role: 'provider-admin' } });
    expect(await call(relay, 'POST', '/v1/tenants', await accessToken('provider', 'provider-admin'), { id: 'acme', name: 'Acme' })).toMatchObject({ status: 201 });
    expect(await call(relay, 'GET', '/v1/me', await accessToken('acme', 'operator'))).toMatchObject({ status: 200, body: { tenant: 'acme', role: 'operator' } });
    // Still no local users: identities stay at the issuer.
    expect(await relay.app.store.selectFrom('users').select('id').execute()).toEqual([]);
  });

  it('provider-admin only for the provider tenant: in another tenant\'s token it reads nothing of other tenants, and alone it is refused', async () => {
    await call(relay, 'POST', '/v1/tenants', await accessToken('provider', 'provider-admin'), { id: 'globex', name: 'Globex' });
    await call(relay, 'POST', '/v1/tenants', await accessToken('provider', 'provider-admin'), { id: 'initech', name: 'Initech' });
    await addServer(relay, 'initech', 'initech-1');
    // A role list as groups give it: the tenant's admins named a group "provider-admin".
    const mixed = await accessToken('globex', 'viewer', { role: ['viewer', 'provider-admin'] });
    expect(await call(relay, 'GET', '/v1/me', mixed)).toMatchObject({ status: 200, body: { tenant: 'globex', role: 'viewer' } });
    expect((await call(relay, 'GET', '/v1/servers/initech-1', mixed)).status).toBe(404);
    expect((await call(relay, 'GET', '/v1/tenants', mixed)).status).toBe(403);
    expect((await call(relay, 'POST', '/v1/tenants', mixed, { id: 'evil', name: 'Evil' })).status).toBe(403);
    const alone = await call(relay, 'GET', '/v1/me', await accessToken('globex', 'provider-admin'));
    expect(alone).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(String(alone.body['message'])).toContain('provider-admin is a role of the provider tenant "provider" only');
    expect(await call(relay, 'GET', '/v1/servers/initech-1', await accessToken('provider', 'provider-admin'))).toMatchObject({ status: 200 });
  });

  it('the console\'s Content-Security-Policy lets it reach the issuer (sent by the relay), and nobody may frame it', async () => {
    for (const url of ['/', '/v1/client-config']) {
      const { headers } = await call(relay, 'GET', url, undefined);
      const policy = String(headers['content-security-policy']);
      expect(policy).toMatch(new RegExp(`(^|; )connect-src 'self' ${issuer.url}(;|$)`));
      expect(policy).toMatch(/(^|; )frame-ancestors 'none'(;|$)/);
    }
  });

  it('refuses a token whose typ is not at+jwt (an ID token, a JWT of another kind) with TOKEN_TYPE', async () => {
    const plain = await issuer.token(claims('provider', 'provider-admin'));
    expect(await call(relay, 'GET', '/v1/me', plain)).toMatchObject({ status: 401, code: 'TOKEN_TYPE' });
    expect(await call(relay, 'GET', '/v1/me', await accessToken('provider', 'viewer'))).toMatchObject({ status: 200 });
  });

  it('refuses a correctly signed token that lives longer than the configured maximum with TOKEN_LIFETIME', async () => {
    const tenYears = 10 * 365 * 86_400;
    expect(await call(relay, 'GET', '/v1/me', await accessToken('provider', 'viewer', {}, { expiresIn: tenYears }))).toMatchObject({ status: 401, code: 'TOKEN_LIFETIME' });
    expect(await call(relay, 'GET', '/v1/me', await accessToken('provider', 'viewer', {}, { expiresIn: 3600 }))).toMatchObject({ status: 200 });
  });

  it('without auth_time (and no other source configured) destructive actions need a step-up, and the refusal says signing in again cannot give it', async () => {
    await addServer(relay, 'provider', 'strict-1');
    const refused = await call(relay, 'POST', '/v1/servers/strict-1/power', await accessToken('provider', 'operator'), { action: 'off' });
    expect(refused).toMatchObject({ status: 401, code: 'STEP_UP_REQUIRED' });
    // Not "sign in again": the next token from this issuer carries no sign-in time either.
    expect(refused.body['message']).toMatch(/no auth_time.*cannot satisfy/);
    expect(refused.body['message']).toContain('identity.external.claims.authTime');
    expect(refused.body['message']).toContain('identity.external.authTimeFromIssuedAt');
    expect(refused.body['hint']).toMatch(/operator/);
    // Said to clients too, so they do not send the person round a loop of sign-ins.
    expect(refused.body['details']).toMatchObject({ signInTime: 'unknown' });
  });
});

describe('external issuer (oauth2-mock-server): providers without auth_time in access tokens', () => {
  let issuer: MockIssuer;
  let relay: RunningRelay;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    issuer = await MockIssuer.create();
    relay = await startRelay({
      config: externalConfig(issuer, { accessTokenTypes: ['JWT'], authTimeFromIssuedAt: true, mfaAcrValues: ['urn:lightsout:mfa'], claims: { authTime: 'ext.last_login' } }),
    });
    await relay.app.store.insertInto('tenants').values([{ id: 'acme', name: 'Acme', created_at: Date.now(), require_mfa: 0 }, { id: 'strict', name: 'Strict', created_at: Date.now(), require_mfa: 1 }]).execute();
    await addServer(relay, 'acme', 'acme-1');
    await addServer(relay, 'strict', 'strict-1');
  });
  afterAll(async () => {
    await relay.close();
    await issuer.stop();
  });

  it('accepts the provider\'s own typ JWT when configured to', async () => {
    expect(await call(relay, 'GET', '/v1/me', await issuer.token(claims('acme', 'viewer')))).toMatchObject({ status: 200 });
  });

  it('a token just issued counts as a fresh sign-in (iat), an old one does not', async () => {
    // The mock's tokens carry amr ["pwd"] and no auth_time, like many providers.
    expect(await call(relay, 'POST', '/v1/servers/acme-1/power', await issuer.token(claims('acme', 'operator')), { action: 'cycle' })).toMatchObject({ status: 503, code: 'AGENT_OFFLINE' });
    const old = await issuer.token(claims('acme', 'operator', { iat: now() - 3600, exp: now() + 300 }));
    const stale = await call(relay, 'POST', '/v1/servers/acme-1/power', old, { action: 'cycle' });
    expect(stale).toMatchObject({ status: 401, code: 'STEP_UP_REQUIRED' });
    // Here a new sign-in does help: the refusal says so.
    expect(stale.body['message']).toMatch(/sign in again \(the last sign-in must be within 600 s\)/);
    expect(stale.body['details']).not.toHaveProperty('signInTime');
  });

  it('auth_time in the token, or in the configured claim, wins over iat', async () => {
    const staleAuthTime = await issuer.token(claims('acme', 'operator', { auth_time: now() - 3600 }));
    expect(await call(relay, 'POST', '/v1/servers/acme-1/power', staleAuthTime, { action: 'off' })).toMatchObject({ code: 'STEP_UP_REQUIRED' });
    const staleCustom = await issuer.token(claims('acme', 'operator', { ext: { last_login: now() - 3600 } }));
    expect(await call(relay, 'POST', '/v1/servers/acme-1/power', staleCustom, { action: 'off' })).toMatchObject({ code: 'STEP_UP_REQUIRED' });
    const freshCustom = await issuer.token(claims('acme', 'operator', { iat: now() - 3600, exp: now() + 300, ext: { last_login: now() - 5 } }));
    expect(await call(relay, 'POST', '/v1/servers/acme-1/power', freshCustom, { action: 'off' })).toMatchObject({ code: 'AGENT_OFFLINE' });
  });

  it('a tenant that requires MFA accepts a configured acr value as the second factor', async () => {
    expect(await call(relay, 'POST', '/v1/servers/strict-1/power', await issuer.token(claims('strict', 'operator')), { action: 'reset' })).toMatchObject({ code: 'STEP_UP_REQUIRED' });
    expect(await call(relay, 'POST', '/v1/servers/strict-1/power', await issuer.token(claims('strict', 'operator', { acr: 'urn:lightsout:mfa' })), { action: 'reset' })).toMatchObject({ code: 'AGENT_OFFLINE' });
  });
});

describe('external issuer (oauth2-mock-server): outages', () => {
  let issuer: MockIssuer;
  let relay: RunningRelay;
  const logLines: string[] = [];
  const token = () => issuer.token(claims('provider', 'viewer'));

  beforeAll(async () => {
    issuer = await MockIssuer.create({ start: false });
    // The issuer is down while the relay boots: the relay still starts.
    relay = await startRelay({
      config: { ...externalConfig(issuer, { accessTokenTypes: ['JWT'], keysRefreshSeconds: 1 }), logLevel: 'info' },
      logDestination: { write: (line: string) => logLines.push(line) },
    });
  });
  afterAll(async () => {
    await relay.close();
    await issuer.stop();
  });

  it('starts with the issuer down: not ready, tokens answered ISSUER_UNAVAILABLE (503), and the cause is logged', async () => {
    const ready = await call(relay, 'GET', '/readyz', undefined);
    expect(ready).toMatchObject({ status: 503, code: 'ISSUER_UNAVAILABLE' });
    const early = await issuer.token(claims('provider', 'viewer'));
    expect(await call(relay, 'GET', '/v1/me', early)).toMatchObject({ status: 503, code: 'ISSUER_UNAVAILABLE' });
    expect(logLines.some((line) => line.includes('external issuer unreachable') && line.includes(issuer.url))).toBe(true);
  });

  it('picks the keys up by itself once the issuer answers', async () => {
    await issuer.start();
    const accepted = await token();
    await waitFor('the relay to fetch the issuer\'s keys', async () => (await call(relay, 'GET', '/v1/me', accepted)).status === 200, { timeoutMs: 15_000 });
    expect(await call(relay, 'GET', '/readyz', undefined)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('keeps verifying with the last known keys while the issuer is down, and says so in readiness and metrics', async () => {
    const accepted = await token();
    await issuer.stop();
    await waitFor('a failed key refresh', async () => /^lightsout_issuer_reachable 0$/m.test(await relay.app.metrics.registry.metrics()), { timeoutMs: 15_000 });
    // Several refresh periods later, still accepted (the old code dropped the keys after its cache age).
    const failures = async () => Number(/^lightsout_issuer_refresh_failures_total (\d+)$/m.exec(await relay.app.metrics.registry.metrics())?.[1] ?? 0);
    const seen = await failures();
    await waitFor('two more failed refreshes', async () => (await failures()) >= seen + 2, { timeoutMs: 15_000 });
    expect(await call(relay, 'GET', '/v1/me', accepted)).toMatchObject({ status: 200 });
    expect(await call(relay, 'GET', '/readyz', undefined)).toMatchObject({ status: 200, body: { status: 'ok', issuer: { reachable: false } } });
    // A key the relay has never seen cannot be checked while the issuer is away: 503, not "token rejected".
    const { privateKey } = await generateKeyPair('RS256');
    const rotated = await new SignJWT(claims('provider', 'viewer')).setProtectedHeader({ alg: 'RS256', kid: 'rotated-key', typ: 'JWT' }).setIssuer(issuer.url).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect(await call(relay, 'GET', '/v1/me', rotated)).toMatchObject({ status: 503, code: 'ISSUER_UNAVAILABLE' });
    await issuer.start();
    await waitFor('the issuer to be reachable again', async () => /^lightsout_issuer_reachable 1$/m.test(await relay.app.metrics.registry.metrics()), { timeoutMs: 15_000 });
    expect(await call(relay, 'GET', '/v1/me', rotated)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });
});
