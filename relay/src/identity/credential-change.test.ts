import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestBrowser, loginWithDeviceFlow, loginWithPassword, refreshTokens, signInAgainWith, startRelay } from '../testing/index.js';
import { createUser } from './accounts.js';

let relay: RunningRelay;
let admin: string;

async function call(method: string, url: string, token: string, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  return { status: response.statusCode, body: (response.body === '' ? {} : response.json()) as Record<string, unknown> & { code?: string } };
}

/** Everything a person signed in with: a browser session, the console's tokens, the CLI's tokens. */
async function signInEverywhere(username: string, password: string) {
  const browser = new TestBrowser();
  const web = await loginWithPassword(relay.url, username, password, { browser });
  const cli = await loginWithDeviceFlow(relay.url, username, password);
  expect(await signInAgainWith(browser, relay.url)).toBe('signed-in');
  return { browser, web, cli };
}

async function expectAllEnded(signedIn: Awaited<ReturnType<typeof signInEverywhere>>) {
  await expect(refreshTokens(relay.url, signedIn.web.refreshToken!, 'lightsout-web')).rejects.toThrow(/invalid_grant/);
  await expect(refreshTokens(relay.url, signedIn.cli.refreshToken!, 'lightsout-cli')).rejects.toThrow(/invalid_grant/);
  expect(await signInAgainWith(signedIn.browser, relay.url)).toBe('login-page');
  // The access tokens die with their grants, not 15 min later.
  expect((await call('GET', '/v1/me', signedIn.web.accessToken)).body.code).toBe('TOKEN_INVALID');
  expect((await call('GET', '/v1/me', signedIn.cli.accessToken)).body.code).toBe('TOKEN_INVALID');
}

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
}, 60_000);
afterAll(async () => {
  await relay.close();
});

describe('a credential change ends every sign-in made with the old credentials', () => {
  it("an admin's password change revokes the user's refresh tokens, OP sessions and grants, and ends live sessions", async () => {
    const user = await createUser(relay.app.store, { tenant: 'demo', username: 'changed-by-admin', password: 'first-password-of-changed', role: 'operator' });
    const signedIn = await signInEverywhere('changed-by-admin', 'first-password-of-changed');
    const heard: string[] = [];
    const unsubscribe = relay.app.revocations.subscribe((notice) => notice.kind === 'subject' && heard.push(`${notice.subject}:${notice.reason}`));
    try {
      expect((await call('PATCH', `/v1/users/${user.id}`, admin, { password: 'second-password-of-changed' })).status).toBe(200);
    } finally {
      unsubscribe();
    }
    expect(heard).toEqual([`${user.id}:password changed`]);
    await expectAllEnded(signedIn);
    // The new password signs in as usual.
    expect((await call('GET', '/v1/me', (await loginWithPassword(relay.url, 'changed-by-admin', 'second-password-of-changed')).accessToken)).status).toBe(200);
  });

  it('disabling a user does the same, and enabling them again does not bring the old sign-ins back', async () => {
    const user = await createUser(relay.app.store, { tenant: 'demo', username: 'disabled-later', password: 'password-of-disabled-later', role: 'operator' });
    const signedIn = await signInEverywhere('disabled-later', 'password-of-disabled-later');
    expect((await call('PATCH', `/v1/users/${user.id}`, admin, { disabled: true })).status).toBe(200);
    expect((await call('PATCH', `/v1/users/${user.id}`, admin, { disabled: false })).status).toBe(200);
    await expectAllEnded(signedIn);
  });

  it('a user changes their own password with the current one, which ends their other sign-ins', async () => {
    await createUser(relay.app.store, { tenant: 'demo', username: 'self-changer', password: 'self-changer-password-one', role: 'operator' });
    const signedIn = await signInEverywhere('self-changer', 'self-changer-password-one');
    const token = (await loginWithPassword(relay.url, 'self-changer', 'self-changer-password-one')).accessToken;
    expect((await call('POST', '/v1/me/password', token, { currentPassword: 'not-my-password-at-all', newPassword: 'self-changer-password-two' })).status).toBe(403);
    expect((await call('POST', '/v1/me/password', token, { currentPassword: 'self-changer-password-one', newPassword: 'self-changer-password-two' })).status).toBe(204);
    await expectAllEnded(signedIn);
    await expect(loginWithPassword(relay.url, 'self-changer', 'self-changer-password-one')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await loginWithPassword(relay.url, 'self-changer', 'self-changer-password-two')).accessToken).toBeTruthy();
    const actions = (await relay.app.store.selectFrom('audit').select(['action', 'outcome']).where('action', '=', 'user.password').orderBy('seq').execute()).map((row) => row.outcome);
    expect(actions).toEqual(['denied', 'success']);
  });
});
