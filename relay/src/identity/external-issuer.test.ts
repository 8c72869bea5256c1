import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithDeviceFlow, startRelay } from '../testing/index.js';

// A relay that trusts another relay's embedded OP as its external issuer:
// discovery, remote JWKS, iss/aud checks and the claims mapping, for real.
let issuerRelay: RunningRelay;
let trustingRelay: RunningRelay;

beforeAll(async () => {
  issuerRelay = await startRelay();
  trustingRelay = await startRelay({
    config: {
      identity: {
        mode: 'external',
        audience: `${issuerRelay.url}/v1`,
        // Not the issuer relay's "provider": its admin's tenant stays unknown here.
        external: { issuer: `${issuerRelay.url}/oidc`, providerTenant: 'operators' },
      },
    },
  });
  await trustingRelay.app.store.insertInto('tenants').values({ id: 'demo', name: 'Demo', created_at: Date.now() }).execute();
});
afterAll(async () => {
  await trustingRelay.close();
  await issuerRelay.close();
});

describe('external issuer', () => {
  it('publishes the external issuer to clients and seeds no local users', async () => {
    const config = (await (await fetch(`${trustingRelay.url}/v1/client-config`)).json()) as Record<string, string>;
    expect(config).toMatchObject({ issuer: `${issuerRelay.url}/oidc`, audience: `${issuerRelay.url}/v1`, clientId: 'lightsout-web' });
    expect(await trustingRelay.app.store.selectFrom('users').select('id').execute()).toEqual([]);
    expect((await fetch(`${trustingRelay.url}/oidc/.well-known/openid-configuration`)).status).toBe(404);
  });

  it('accepts the issuer\'s token and maps tenant, role and username from its claims', async () => {
    const { accessToken } = await loginWithDeviceFlow(issuerRelay.url, 'operator', issuerRelay.credentials.operator.password);
    const response = await fetch(`${trustingRelay.url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ username: 'operator', tenant: 'demo', role: 'operator', issuer: `${issuerRelay.url}/oidc` });
  });

  it('refuses a token whose tenant it does not know (FORBIDDEN)', async () => {
    const { accessToken } = await loginWithDeviceFlow(issuerRelay.url, 'admin', issuerRelay.credentials.admin.password);
    const response = await fetch(`${trustingRelay.url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { code: string }).code).toBe('FORBIDDEN');
  });
});
