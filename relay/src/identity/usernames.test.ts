import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';

/**
 * Usernames are unique within a tenant, not across tenants: a tenant admin
 * creating `operator` must not learn that another tenant has one (a 409
 * would say so), and the two accounts sign in side by side.
 */
let relay: RunningRelay;
let admin: string;

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function whoami(token: string): Promise<Record<string, unknown>> {
  return (await api('GET', '/v1/me', token)).body;
}

const BRAVO_ADMIN_PASSWORD = 'bravo admin keeps a long passphrase';
const BRAVO_OPERATOR_PASSWORD = 'another operator, another long passphrase';

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  expect((await api('POST', '/v1/tenants', admin, { id: 'bravo', name: 'Bravo' })).status).toBe(201);
  expect((await api('POST', '/v1/users', admin, { tenant: 'bravo', username: 'bravo-admin', password: BRAVO_ADMIN_PASSWORD, role: 'tenant-admin' })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('usernames are per tenant', () => {
  it('a tenant admin creates a name another tenant uses, without learning that it does', async () => {
    const bravoAdmin = (await loginWithPassword(relay.url, 'bravo-admin', BRAVO_ADMIN_PASSWORD)).accessToken;
    const created = await api('POST', '/v1/users', bravoAdmin, { username: 'operator', password: BRAVO_OPERATOR_PASSWORD, role: 'operator' });
    expect(created).toMatchObject({ status: 201, body: { tenant: 'bravo', username: 'operator' } });
    // Within one tenant a name is still taken.
    expect(await api('POST', '/v1/users', bravoAdmin, { username: 'operator', password: BRAVO_OPERATOR_PASSWORD, role: 'viewer' })).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
  });

  it('both accounts named operator sign in, each with its own password, to its own tenant', async () => {
    const demo = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
    expect(await whoami(demo)).toMatchObject({ username: 'operator', tenant: 'demo' });
    const bravo = (await loginWithPassword(relay.url, 'operator', BRAVO_OPERATOR_PASSWORD)).accessToken;
    expect(await whoami(bravo)).toMatchObject({ username: 'operator', tenant: 'bravo' });
  });

  it('name@tenant names the account exactly, and a wrong tenant is a wrong username', async () => {
    const bravo = (await loginWithPassword(relay.url, 'operator@bravo', BRAVO_OPERATOR_PASSWORD)).accessToken;
    expect(await whoami(bravo)).toMatchObject({ username: 'operator', tenant: 'bravo' });
    await expect(loginWithPassword(relay.url, 'operator@demo', BRAVO_OPERATOR_PASSWORD)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(loginWithPassword(relay.url, 'operator@nosuch', BRAVO_OPERATOR_PASSWORD)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
