import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TEST_PASSWORD, loginWithPassword, startRelay } from '../testing/index.js';
import { randomPassword } from './passwords.js';
import { passwordWeakness } from './password-policy.js';

describe('password policy (zxcvbn-ts)', () => {
  it('refuses trivially weak, well-known and username-based passwords with a reason', () => {
    for (const weak of ['aaaaaaaaaaaa', 'password1234', 'qwertyuiop12', '123456789012', 'abcdefghijkl', 'P@ssw0rd2024']) {
      expect(passwordWeakness(weak), weak).toMatch(/\w/);
    }
    expect(passwordWeakness('aaaaaaaaaaaa')).toMatch(/repeat/i);
    expect(passwordWeakness('margaret-operator1', { username: 'margaret-operator' })).toMatch(/\w/);
  });

  it('accepts what the demo generates, the test fixtures, and a passphrase', () => {
    for (let index = 0; index < 20; index += 1) expect(passwordWeakness(randomPassword())).toBeUndefined();
    for (const fixture of [TEST_PASSWORD, 'isolation-matrix-password', 'intruder-password-1', 'demo-admin-password', 'demo-viewer-password', 'escalate-password', 'elsewhere-password', 'New-User-Password-Secret-51d0', 'a-new-password-for-feed-reset', 'leaver-password-1', 'night-shift-password', 'weakling-strong-passphrase', 'correct horse battery staple']) {
      expect(passwordWeakness(fixture), fixture).toBeUndefined();
    }
  });
});

describe('password policy on the API', () => {
  let relay: RunningRelay;
  let admin: string;
  beforeAll(async () => {
    relay = await startRelay();
    admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  }, 60_000);
  afterAll(async () => {
    await relay.close();
  });
  const call = async (method: string, url: string, token: string, payload: object) => {
    const response = await relay.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });
    return { status: response.statusCode, body: response.json() as { code?: string; message?: string; id?: string } };
  };

  it('a new user, an admin reset and a self-service change refuse `aaaaaaaaaaaa` with PASSWORD_WEAK', async () => {
    const created = await call('POST', '/v1/users', admin, { username: 'weakling', password: 'aaaaaaaaaaaa', role: 'viewer', tenant: 'demo' });
    expect(created).toMatchObject({ status: 400, body: { code: 'PASSWORD_WEAK' } });
    expect(created.body.message).toMatch(/repeat/i);
    const user = await call('POST', '/v1/users', admin, { username: 'weakling', password: 'weakling-strong-passphrase', role: 'viewer', tenant: 'demo' });
    expect(user.status).toBe(201);
    expect((await call('PATCH', `/v1/users/${user.body.id}`, admin, { password: 'password1234' })).body.code).toBe('PASSWORD_WEAK');
    const own = (await loginWithPassword(relay.url, 'weakling', 'weakling-strong-passphrase')).accessToken;
    expect((await call('POST', '/v1/me/password', own, { currentPassword: 'weakling-strong-passphrase', newPassword: 'weakling12345' })).body.code).toBe('PASSWORD_WEAK');
  });
});
