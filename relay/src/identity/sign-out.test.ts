import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestBrowser, endOpSession, loginWithDeviceFlow, loginWithPassword, refreshTokens, revokeRefreshToken, signInAgainWith, startRelay } from '../testing/index.js';

let relay: RunningRelay;

async function whoami(accessToken: string) {
  const response = await relay.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.statusCode, code: (response.json() as { code?: string }).code };
}

beforeAll(async () => {
  relay = await startRelay();
}, 60_000);
afterAll(async () => {
  await relay.close();
});

describe('signing out', () => {
  it("the console's sign-out (RP-initiated logout) ends the OP session, its refresh token and its access token", async () => {
    const browser = new TestBrowser();
    const tokens = await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { browser });
    expect(tokens.idToken).toBeTypeOf('string');
    expect(await signInAgainWith(browser, relay.url)).toBe('signed-in');
    await endOpSession(browser, relay.url, tokens.idToken!);
    // "Sign in" now asks for the password: the _session cookie no longer signs in.
    expect(await signInAgainWith(browser, relay.url)).toBe('login-page');
    // The console asked for offline_access, which oidc-provider keeps across a logout by default; ours does not.
    await expect(refreshTokens(relay.url, tokens.refreshToken!, 'lightsout-web')).rejects.toThrow(/invalid_grant/);
    expect(await whoami(tokens.accessToken)).toEqual({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('signing out of the console leaves the CLI signed in (its grant is its own)', async () => {
    const browser = new TestBrowser();
    const cli = await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password);
    const web = await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { browser });
    await endOpSession(browser, relay.url, web.idToken!);
    expect((await refreshTokens(relay.url, cli.refreshToken!, 'lightsout-cli')).accessToken).toBeTypeOf('string');
  });

  it('revoking a refresh token (RFC 7009, what the desktop app and `lightsout logout` do) refuses it and its access token', async () => {
    for (const [clientId, tokens] of [
      ['lightsout-web', await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)],
      ['lightsout-cli', await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)],
    ] as const) {
      expect(await revokeRefreshToken(relay.url, tokens.refreshToken!, clientId)).toBe(200);
      await expect(refreshTokens(relay.url, tokens.refreshToken!, clientId)).rejects.toThrow(/invalid_grant/);
      expect(await whoami(tokens.accessToken)).toEqual({ status: 401, code: 'TOKEN_INVALID' });
    }
  });
});
