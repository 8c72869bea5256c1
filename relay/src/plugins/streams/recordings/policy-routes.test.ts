import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordingPolicyView, StreamTokenClaims } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../../access/api-tokens.js';
import { LocalBus } from '../../../cluster/bus.js';
import { createUser, ensureTenant } from '../../../identity/accounts.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../../../testing/index.js';
import { RECORDING_POLICY_FILE, loadRecordingPolicy } from './policy.js';
import { StreamRecorder } from './recorder.js';
import { sweepExpiredRecordings } from './retention.js';
import { FileRecordingStorage } from './storage.js';
import { StoredRecordingPolicies } from './stored-policies.js';

/**
 * A tenant's recording rules set through the API: kept in the store, read by
 * every replica, replacing the file's entry for that tenant; only its admins
 * (and provider admins) read or set them.
 */
const PASSWORD = 'recording-policy-password';
const DAY = 86_400_000;
let relay: RunningRelay;
const tokens = new Map<string, string>();

async function call(method: 'GET' | 'PUT', tenant: string, who: string, body?: unknown) {
  const response = await relay.app.inject({ method, url: `/v1/tenants/${tenant}/recording-policy`, headers: { authorization: `Bearer ${tokens.get(who)!}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: response.statusCode, body: response.json<RecordingPolicyView & { code?: string; message?: string }>() };
}

const claims = (tenant: string, kind: StreamTokenClaims['knd'], sid = 'sessionofbravo00000001'): StreamTokenClaims =>
  ({ sid, srv: 'sim-01', ten: tenant, knd: kind, mod: 'control', agt: 'agent-1', sub: 'user-1', usr: 'alice' }) as StreamTokenClaims;

beforeAll(async () => {
  relay = await startRelay();
  // The deployment's defaults: VNC recorded too, kept 90 days.
  writeFileSync(join(relay.dataDir, RECORDING_POLICY_FILE), JSON.stringify({ '*': { vnc: true, retentionDays: 90 } }));
  const { store } = relay.app;
  await ensureTenant(store, 'alpha', 'Alpha');
  await ensureTenant(store, 'bravo', 'Bravo');
  const users: Array<[string, string, 'operator' | 'tenant-admin']> = [
    ['alpha-admin', 'alpha', 'tenant-admin'],
    ['alpha-operator', 'alpha', 'operator'],
    ['bravo-admin', 'bravo', 'tenant-admin'],
  ];
  for (const [username, tenant, role] of users) await createUser(store, { tenant, username, password: PASSWORD, role });
  for (const [username] of users) tokens.set(username, (await loginWithPassword(relay.url, username, PASSWORD)).accessToken);
  tokens.set('provider-admin', (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken);
  tokens.set('alpha-token', (await createApiToken(store, { tenant: 'alpha', name: 'ci', role: 'tenant-admin', ttlSeconds: 3600, createdBy: 'test' })).token);
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('GET|PUT /v1/tenants/:tenantId/recording-policy', () => {
  it("a tenant admin sets the tenant's rules; they replace the defaults for it, and the change is audited", async () => {
    const unset = await call('GET', 'alpha', 'alpha-admin');
    expect(unset.status).toBe(200);
    expect(unset.body).toMatchObject({ tenant: 'alpha', policy: {}, updatedAt: null, updatedBy: null });

    const set = await call('PUT', 'alpha', 'alpha-admin', { sol: false, vnc: false, retentionDays: 30 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tenant: 'alpha', policy: { sol: false, vnc: false, retentionDays: 30 }, updatedBy: 'alpha-admin' });
    expect((await call('GET', 'alpha', 'provider-admin')).body.policy).toEqual({ sol: false, vnc: false, retentionDays: 30 });
    const audited = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'recording.policy.set').execute();
    expect(audited.map((row) => [row.tenant_id, row.target, row.outcome])).toEqual([['alpha', 'tenant:alpha', 'success']]);

    // A provider admin sets another tenant's; retention null keeps everything.
    expect((await call('PUT', 'bravo', 'provider-admin', { retentionDays: null })).body).toMatchObject({ tenant: 'bravo', policy: { retentionDays: null } });
  });

  it("refuses another tenant's admin, an operator and an API token, and reads nothing for them", async () => {
    expect((await call('GET', 'alpha', 'bravo-admin')).status).toBe(403);
    const put = await call('PUT', 'alpha', 'bravo-admin', { sol: true, retentionDays: 1 });
    expect(put.status).toBe(403);
    expect(put.body).toMatchObject({ code: 'FORBIDDEN' });
    expect((await call('GET', 'alpha', 'alpha-operator')).status).toBe(403);
    expect((await call('PUT', 'alpha', 'alpha-token', { retentionDays: 1 })).status).toBe(403);
    expect((await call('GET', 'alpha', 'alpha-admin')).body.policy).toEqual({ sol: false, vnc: false, retentionDays: 30 });
  });

  it.each([
    ['a retention of zero days', { retentionDays: 0 }],
    ['a retention past 100 years', { retentionDays: 36_501 }],
    ['a retention as text', { retentionDays: '30' }],
    ['a fractional retention', { retentionDays: 1.5 }],
    ['an unknown kind', { vcn: true }],
    ['a kind as text', { sol: 'yes' }],
  ])('refuses %s with VALIDATION_FAILED', async (_name, body) => {
    const answer = await call('PUT', 'alpha', 'alpha-admin', body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.any(String) });
  });

  it('a provider admin setting a tenant that does not exist gets NOT_FOUND', async () => {
    expect((await call('PUT', 'nobody', 'provider-admin', { sol: true })).body).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('the stored rules on every replica', () => {
  it('a rule set at one replica decides the next recording at another, and its retention sweep', async () => {
    const { store } = relay.app;
    const bus = new LocalBus();
    const here = new StoredRecordingPolicies(store, bus);
    const there = new StoredRecordingPolicies(store, bus);
    await here.start();
    await there.start();
    try {
      const policyThere = loadRecordingPolicy(relay.dataDir, there.rulesOf);
      const directory = join(relay.dataDir, 'replica-recordings');
      const storage = new FileRecordingStorage(directory);
      const recorder = new StreamRecorder(storage, policyThere.records);
      // bravo (no vnc rule of its own) follows the file's "*": VNC recorded.
      const first = recorder.hooksFor(claims('bravo', 'vnc'));
      expect(first).toBeDefined();
      first?.end?.();

      await here.set('bravo', { vnc: false, retentionDays: 2 }, 'bravo-admin');
      await expect.poll(() => policyThere.records('bravo', 'vnc')).toBe(false);
      expect(recorder.hooksFor(claims('bravo', 'vnc', 'sessionofbravo00000002'))).toBeUndefined();
      expect(policyThere.records('bravo', 'sol')).toBe(true);

      // Retention: bravo's 2 days, not the file's 90 (three days on, both of its recordings are past it).
      const old = storage.writer({ id: 'oldbravo00000000000001', sessionId: 'oldbravo00000000000001', serverId: 'sim-01', tenant: 'bravo', kind: 'sol', user: 'alice', startedAt: 1 });
      old.append(Buffer.from('old output'), 1);
      old.close();
      await old.idle();
      const expired = await sweepExpiredRecordings(storage, policyThere.retentionDays, () => false, Date.now() + 3 * DAY);
      expect(expired.map((entry) => entry.meta.id).sort()).toEqual(['oldbravo00000000000001', 'sessionofbravo00000001']);
      expect(existsSync(join(directory, 'oldbravo00000000000001.bytes'))).toBe(false);
    } finally {
      here.stop();
      there.stop();
    }
  });

  it('a replica that missed the notice reads the rules again when it reloads', async () => {
    const lonely = new StoredRecordingPolicies(relay.app.store);
    await lonely.start();
    const other = new StoredRecordingPolicies(relay.app.store);
    await other.set('bravo', { sol: false }, 'provider-admin');
    expect(lonely.rulesOf('bravo')).not.toEqual({ sol: false });
    await lonely.reload();
    expect(lonely.rulesOf('bravo')).toEqual({ sol: false });
  });
});
