import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithDeviceFlow, loginWithPassword, refreshTokens, startRelay } from '../testing/index.js';

let relay: RunningRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay.close();
});

async function whoami(accessToken: string) {
  const response = await fetch(`${relay.url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('embedded OP login', () => {
  it('publishes what clients need to log in', async () => {
    const response = await fetch(`${relay.url}/v1/client-config`);
    expect(await response.json()).toEqual({
      issuer: `${relay.url}/oidc`,
      clientId: 'lightsout-web',
      cliClientId: 'lightsout-cli',
      scopes: 'openid profile offline_access',
      audience: `${relay.url}/v1`,
    });
    const discovery = (await (await fetch(`${relay.url}/oidc/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery['issuer']).toBe(`${relay.url}/oidc`);
    expect(discovery['device_authorization_endpoint']).toBe(`${relay.url}/oidc/device/auth`);
  });

  it('logs the CLI in with the device grant, by plain HTTP form posts', async () => {
    const tokens = await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password);
    expect(decodeProtectedHeader(tokens.accessToken).alg).toBe('EdDSA');
    const claims = decodeJwt(tokens.accessToken);
    expect(claims.aud).toBe(`${relay.url}/v1`);
    expect(claims.iss).toBe(`${relay.url}/oidc`);
    expect(tokens.refreshToken).toBeTypeOf('string');
    const me = await whoami(tokens.accessToken);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'operator', tenant: 'demo', role: 'operator', issuer: `${relay.url}/oidc`, subject: claims.sub });
  });

  it('logs the web console in with authorization code + PKCE, and refreshes', async () => {
    const tokens = await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password);
    expect((await whoami(tokens.accessToken)).body).toMatchObject({ username: 'admin', tenant: 'provider', role: 'provider-admin' });
    const refreshed = await refreshTokens(relay.url, tokens.refreshToken!, 'lightsout-web');
    expect(decodeJwt(refreshed.accessToken).aud).toBe(`${relay.url}/v1`);
    expect((await whoami(refreshed.accessToken)).status).toBe(200);
  });

  it("rotates the web console's refresh token at each use: the used one is refused, the new one renews the same sign-in", async () => {
    const tokens = await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password);
    const first = await refreshTokens(relay.url, tokens.refreshToken!, 'lightsout-web');
    expect(first.refreshToken).toBeTypeOf('string');
    expect(first.refreshToken).not.toBe(tokens.refreshToken);
    const second = await refreshTokens(relay.url, first.refreshToken!, 'lightsout-web');
    expect(second.refreshToken).not.toBe(first.refreshToken);
    // The same sign-in: its auth_time does not move with a renewal (a step-up still needs a fresh sign-in).
    expect(decodeJwt(tokens.accessToken)['auth_time']).toBeTypeOf('number');
    expect(decodeJwt(second.accessToken)['auth_time']).toBe(decodeJwt(tokens.accessToken)['auth_time']);
    expect((await whoami(second.accessToken)).body).toMatchObject({ username: 'operator' });
    // A copy of a used refresh token (stolen, or a second tab's stale one) renews nothing.
    await expect(refreshTokens(relay.url, tokens.refreshToken!, 'lightsout-web')).rejects.toThrow(/invalid_grant/);
  });

  it('accepts a loopback redirect on any port for the desktop app (RFC 8252)', async () => {
    const tokens = await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { redirectUri: 'http://127.0.0.1:49152/callback' });
    expect((await whoami(tokens.accessToken)).body).toMatchObject({ username: 'operator' });
  });

  it('refuses a wrong password with the login page again and an audit record', async () => {
    await expect(loginWithPassword(relay.url, 'operator', 'wrong-password')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const failures = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'login').where('outcome', '=', 'failure').execute();
    expect(failures.some((row) => row.target === 'user:operator')).toBe(true);
  });
});
