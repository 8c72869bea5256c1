import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../identity/accounts.js';
import { type RunningRelay, startRelay } from '../testing/index.js';
import { createApiToken } from './api-tokens.js';

/**
 * An API token is a long-lived secret kept in scripts and CI. Whatever its
 * role, it never manages people, grants, tokens, credentials, tenants or
 * agents: a leaked one must not mint a new admin (who would then mint more).
 */
let relay: RunningRelay;
let tenantAdminToken: string;
let providerToken: string;
let otherAdminId: string;

async function call(method: string, url: string, token: string, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  return { status: response.statusCode, code: (response.body.startsWith('{') ? (response.json() as { code?: string }).code : undefined) };
}

beforeAll(async () => {
  relay = await startRelay();
  otherAdminId = (await createUser(relay.app.store, { tenant: 'demo', username: 'other-admin', password: 'other-admin-password-1', role: 'tenant-admin' })).id;
  tenantAdminToken = (await createApiToken(relay.app.store, { tenant: 'demo', name: 'ci', role: 'tenant-admin', ttlSeconds: 3600, createdBy: 'test' })).token;
  providerToken = (await createApiToken(relay.app.store, { tenant: 'provider', name: 'noc', role: 'provider-admin', ttlSeconds: 3600, createdBy: 'test' })).token;
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('what an API token may not do, whatever its role', () => {
  it('a tenant-admin token manages no users, passwords, grants or tokens', async () => {
    expect(await call('POST', '/v1/users', tenantAdminToken, { username: 'minted-admin', password: 'minted-admin-password-1', role: 'tenant-admin' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await call('PATCH', `/v1/users/${otherAdminId}`, tenantAdminToken, { password: 'taken-over-password-1' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await call('GET', '/v1/users', tenantAdminToken)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await call('POST', '/v1/grants', tenantAdminToken, { userId: otherAdminId, selector: { kind: 'rack', rack: 'r1' } })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await call('GET', '/v1/tokens', tenantAdminToken)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await relay.app.store.selectFrom('users').select('id').where('username', '=', 'minted-admin').executeTakeFirst()).toBeUndefined();
  });

  it('a provider-admin token manages no tenants or agents', async () => {
    expect(await call('POST', '/v1/tenants', providerToken, { id: 'minted', name: 'Minted' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await call('POST', '/v1/agents/join-tokens', providerToken, { region: 'eu', datacenter: 'fra1', tenants: ['provider'] })).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('it still does the work it is for, and each refusal is audited', async () => {
    expect((await call('GET', '/v1/servers', tenantAdminToken)).status).toBe(200);
    expect((await call('GET', '/v1/audit', tenantAdminToken)).status).toBe(200);
    const denied = await relay.app.store.selectFrom('audit').select(['action', 'outcome']).where('action', '=', 'access.denied').execute();
    expect(denied.length).toBeGreaterThanOrEqual(7);
  });
});
