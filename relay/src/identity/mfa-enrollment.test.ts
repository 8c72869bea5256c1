import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from './accounts.js';
import { base32Decode, totp } from './totp.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';

let relay: RunningRelay;
let admin: string;

async function call(method: string, url: string, token: string, payload?: object) {
  const response = await relay.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  return { status: response.statusCode, body: (response.body === '' ? {} : response.json()) as Record<string, unknown> & { code?: string } };
}

const now = () => Math.floor(Date.now() / 1000);
const PASSWORD = 'mfa-enrollment-test-password';

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  await relay.app.store.insertInto('tenants').values({ id: 'strict', name: 'Strict', created_at: Date.now(), require_mfa: 1 }).execute();
  await createUser(relay.app.store, { tenant: 'strict', username: 'strict-operator', password: PASSWORD, role: 'operator' });
  await createUser(relay.app.store, { tenant: 'demo', username: 'plain-operator', password: PASSWORD, role: 'operator' });
}, 60_000);
afterAll(async () => {
  await relay.close();
});

describe('second-factor enrollment needs a strong proof', () => {
  it('in a tenant that requires MFA, a password-only sign-in cannot enroll a factor, not even with the password again; an admin-issued enrollment code can, once', async () => {
    const passwordOnly = (await loginWithPassword(relay.url, 'strict-operator', PASSWORD)).accessToken;
    expect(decodeJwt(passwordOnly)['amr']).toEqual(['pwd']);
    expect((await call('POST', '/v1/me/totp', passwordOnly, {})).status).toBeGreaterThanOrEqual(400);
    const refused = await call('POST', '/v1/me/totp', passwordOnly, { password: PASSWORD });
    expect(refused).toMatchObject({ status: 403, body: { code: 'MFA_ENROLLMENT_REQUIRED' } });
    expect((await call('POST', '/v1/me/totp/confirm', passwordOnly, { code: '123456' })).status).toBe(409);

    const users = (await call('GET', '/v1/users?tenant=strict', admin)).body['users'] as Array<{ id: string; username: string }>;
    const userId = users.find((user) => user.username === 'strict-operator')!.id;
    const issued = await call('POST', `/v1/users/${userId}/mfa-enrollment`, admin);
    expect(issued.status).toBe(201);
    const enrollmentCode = String(issued.body['code']);
    expect((await call('POST', '/v1/me/totp', passwordOnly, { password: 'wrong-password', enrollmentCode })).status).toBe(403);
    const started = await call('POST', '/v1/me/totp', passwordOnly, { password: PASSWORD, enrollmentCode });
    expect(started.status).toBe(201);
    // Spent: the same code does not start a second enrollment.
    expect((await call('POST', '/v1/me/totp', passwordOnly, { password: PASSWORD, enrollmentCode })).body.code).toBe('MFA_ENROLLMENT_REQUIRED');
    const secret = base32Decode(String(started.body['secret']));
    expect((await call('POST', '/v1/me/totp/confirm', passwordOnly, { code: totp(secret, now() - 30) })).status).toBe(200);
    const withOtp = (await loginWithPassword(relay.url, 'strict-operator', PASSWORD, { otp: totp(secret, now()) })).accessToken;
    expect(decodeJwt(withOtp)['amr']).toEqual(['pwd', 'otp', 'mfa']);
    const actions = (await relay.app.store.selectFrom('audit').select(['action', 'outcome']).where('action', 'like', 'mfa.%').where('tenant_id', '=', 'strict').orderBy('seq').execute()).map((row) => `${row.action}:${row.outcome}`);
    expect(actions).toEqual(['mfa.enroll-start:denied', 'mfa.enrollment-code:success', 'mfa.enroll-start:denied', 'mfa.enroll-start:success', 'mfa.enroll-start:denied', 'mfa.enroll:success']);
  });

  it('elsewhere enrollment needs the password again within a fresh sign-in', async () => {
    const token = (await loginWithPassword(relay.url, 'plain-operator', PASSWORD)).accessToken;
    expect((await call('POST', '/v1/me/totp', token, {})).status).toBe(400);
    expect((await call('POST', '/v1/me/totp', token, { password: 'not-the-password' })).status).toBe(403);
    expect((await call('POST', '/v1/me/totp', token, { password: PASSWORD })).status).toBe(201);
  });

  it('an active factor is replaced only with a fresh sign-in that used it; until confirmed the old one stays', async () => {
    const first = (await loginWithPassword(relay.url, 'plain-operator', PASSWORD)).accessToken;
    const started = await call('POST', '/v1/me/totp', first, { password: PASSWORD });
    const oldSecret = base32Decode(String(started.body['secret']));
    expect((await call('POST', '/v1/me/totp/confirm', first, { code: totp(oldSecret, now() - 30) })).status).toBe(200);
    // The password-only token from before the factor existed cannot swap it for an attacker's.
    expect((await call('POST', '/v1/me/totp', first, { password: PASSWORD })).body.code).toBe('STEP_UP_REQUIRED');
    const withOld = (await loginWithPassword(relay.url, 'plain-operator', PASSWORD, { otp: totp(oldSecret, now()) })).accessToken;
    const replacing = await call('POST', '/v1/me/totp', withOld, { password: PASSWORD });
    expect(replacing.status).toBe(201);
    const newSecret = base32Decode(String(replacing.body['secret']));
    // Not confirmed yet: the old factor is still the one stored.
    const stored = async () => (await relay.app.store.selectFrom('users').select('totp_secret').where('username', '=', 'plain-operator').executeTakeFirstOrThrow()).totp_secret;
    const oldStored = await stored();
    expect((await call('POST', '/v1/me/totp/confirm', withOld, { code: totp(oldSecret, now() + 30) })).status).toBe(400);
    expect(await stored()).toBe(oldStored);
    expect((await call('POST', '/v1/me/totp/confirm', withOld, { code: totp(newSecret, now()) })).status).toBe(200);
    // A code of the old factor that was never used is refused now; the new factor signs in.
    await expect(loginWithPassword(relay.url, 'plain-operator', PASSWORD, { otp: totp(oldSecret, now() + 30) })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await loginWithPassword(relay.url, 'plain-operator', PASSWORD, { otp: totp(newSecret, now() + 30) })).accessToken).toBeTruthy();
  });
});

describe('one-time codes are one-time (RFC 6238 §5.2)', () => {
  it('a code that signed in once is refused the second time, within its window', async () => {
    await createUser(relay.app.store, { tenant: 'demo', username: 'reuse-operator', password: PASSWORD, role: 'operator' });
    const token = (await loginWithPassword(relay.url, 'reuse-operator', PASSWORD)).accessToken;
    const secret = base32Decode(String((await call('POST', '/v1/me/totp', token, { password: PASSWORD })).body['secret']));
    expect((await call('POST', '/v1/me/totp/confirm', token, { code: totp(secret, now() - 30) })).status).toBe(200);
    const code = totp(secret, now());
    expect((await loginWithPassword(relay.url, 'reuse-operator', PASSWORD, { otp: code })).accessToken).toBeTruthy();
    await expect(loginWithPassword(relay.url, 'reuse-operator', PASSWORD, { otp: code })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // The code of an earlier step than the one used is refused too (it is older).
    await expect(loginWithPassword(relay.url, 'reuse-operator', PASSWORD, { otp: totp(secret, now() - 30) })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
