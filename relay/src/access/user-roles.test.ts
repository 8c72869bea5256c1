import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../identity/accounts.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';

/** Provider admins belong to the provider tenant: neither creating nor changing a user makes one elsewhere. */
let relay: RunningRelay;
let admin: string;
let demoUserId: string;

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  demoUserId = (await createUser(relay.app.store, { tenant: 'demo', username: 'dora', password: 'dora-password-long-1', role: 'operator' })).id;
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('the provider-admin role outside the provider tenant', () => {
  it('is refused on PATCH exactly as on POST, and the user keeps their role', async () => {
    const created = await relay.app.inject({ method: 'POST', url: '/v1/users', headers: { authorization: `Bearer ${admin}` }, payload: { username: 'paula', password: 'paula-password-long-1', role: 'provider-admin', tenant: 'demo' } });
    expect(created.statusCode).toBe(403);
    const patched = await relay.app.inject({ method: 'PATCH', url: `/v1/users/${demoUserId}`, headers: { authorization: `Bearer ${admin}` }, payload: { role: 'provider-admin' } });
    expect(patched.statusCode).toBe(403);
    expect(patched.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await relay.app.store.selectFrom('users').select('role').where('id', '=', demoUserId).executeTakeFirstOrThrow()).role).toBe('operator');
  });
});
