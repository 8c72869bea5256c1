import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeJoinToken, createJoinToken } from '../agents/join-tokens.js';
import { createAuditLog } from '../audit/audit.js';
import { createUser, ensureTenant } from '../identity/accounts.js';
import { kyselyAdapterFactory } from '../identity/oidc-adapter.js';
import { applyInventory } from '../inventory/apply.js';
import { storeDialects } from '../testing/dialects.js';
import type { Store } from './open.js';

// The same store code on both dialects: one migration set, one behaviour.
const dialects = storeDialects('lightsout-store-');
const silentLog = { error: () => undefined, warn: () => undefined } as never;

describe.each(dialects)('store on %s', (_name, open) => {
  let store: Store;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store?.destroy();
  });

  it('migrates, and migrating again is a no-op', async () => {
    const again = await open();
    await again.destroy();
    await ensureTenant(store, 'demo', 'Demo');
    await ensureTenant(store, 'demo', 'Demo');
    expect(await store.selectFrom('tenants').select(['id', 'name', 'created_at']).execute()).toEqual([{ id: 'demo', name: 'Demo', created_at: expect.any(Number) }]);
  });

  it('stores epoch milliseconds as numbers and enforces unique usernames', async () => {
    await createUser(store, { tenant: 'demo', username: 'alice', password: 'pw-alice-123', role: 'viewer' });
    const row = await store.selectFrom('users').selectAll().where('username', '=', 'alice').executeTakeFirstOrThrow();
    expect(typeof row.created_at).toBe('number');
    expect(row.created_at).toBeGreaterThan(1_700_000_000_000);
    await expect(createUser(store, { tenant: 'demo', username: 'alice', password: 'x', role: 'viewer' })).rejects.toThrow();
  });

  it('consumes a join token exactly once', async () => {
    const { token } = await createJoinToken(store, { region: 'eu', datacenter: 'fra1', tenants: ['demo'], ttlSeconds: 600, createdBy: 'test' });
    expect(await consumeJoinToken(store, token, 'agent-1')).toEqual({ region: 'eu', datacenter: 'fra1', tenants: '["demo"]' });
    await expect(consumeJoinToken(store, token, 'agent-2')).rejects.toMatchObject({ code: 'JOIN_TOKEN_USED' });
  });

  it('applies inventories with the ownership rules', async () => {
    for (const id of ['agent-a', 'agent-b']) {
      await store.insertInto('agents').values({ id, name: id, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: Date.now() }).execute();
    }
    const server = (id: string, tenant = 'demo') => ({ id, name: id, tenant, rack: 'r1', endpoints: {}, capabilities: [] as never[] });
    expect(await applyInventory(store, { id: 'agent-a', region: 'eu', datacenter: 'fra1', tenants: ['demo'] }, [server('s1'), server('s2')])).toEqual({ accepted: ['s1', 's2'], rejected: [], removed: [], assigned: [] });
    const second = await applyInventory(store, { id: 'agent-b', region: 'eu', datacenter: 'ams1', tenants: ['demo', 'ghost'] }, [server('s1'), server('s3', 'ghost')]);
    expect(second.rejected.map((entry) => entry.error.code)).toEqual(['CONFLICT', 'NOT_FOUND']);
    expect(await applyInventory(store, { id: 'agent-a', region: 'eu', datacenter: 'fra1', tenants: ['demo'] }, [server('s2')])).toEqual({ accepted: ['s2'], rejected: [], removed: [{ id: 's1', tenant: 'demo' }], assigned: [] });
    // A provider admin's assignment wins over the agent's config, and the agent is told so.
    await store.insertInto('server_assignments').values({ server_id: 's2', tenant_id: 'demo', assigned_by: 'test', assigned_at: Date.now() }).execute();
    expect((await applyInventory(store, { id: 'agent-a', region: 'eu', datacenter: 'fra1', tenants: ['demo'] }, [server('s2', 'provider')])).assigned).toEqual([{ serverId: 's2', tenant: 'demo' }]);
    expect((await store.selectFrom('servers').select('id').orderBy('id').execute()).map((row) => row.id)).toEqual(['s2']);
  });

  it('keeps oidc-provider payloads with lookups by uid, user code and grant', async () => {
    const Adapter = kyselyAdapterFactory(store);
    const sessions = new Adapter('Session');
    const devices = new Adapter('DeviceCode');
    await sessions.upsert('s-1', { uid: 'u-1', accountId: 'a' }, 60);
    await devices.upsert('d-1', { userCode: 'ABCD', grantId: 'g-1' }, 60);
    await devices.upsert('d-1', { userCode: 'ABCD', grantId: 'g-1', extra: true }, 60);
    expect(await sessions.findByUid('u-1')).toEqual({ uid: 'u-1', accountId: 'a' });
    expect(await devices.findByUserCode('ABCD')).toEqual({ userCode: 'ABCD', grantId: 'g-1', extra: true });
    await devices.consume('d-1');
    expect((await devices.find('d-1'))?.consumed).toEqual(expect.any(Number));
    await devices.revokeByGrantId('g-1');
    expect(await devices.find('d-1')).toBeUndefined();
    await sessions.upsert('s-2', { uid: 'u-2' }, -1);
    expect(await sessions.find('s-2')).toBeUndefined(); // already expired
  });

  it('appends audit records with increasing sequence numbers', async () => {
    const audit = createAuditLog(store, silentLog);
    await audit.append({ action: 'login', outcome: 'success', subject: 'alice', tenant: 'demo' });
    await audit.append({ action: 'login', outcome: 'failure', target: 'user:bob', details: { client: 'lightsout-cli' } });
    const rows = await store.selectFrom('audit').selectAll().orderBy('seq').execute();
    expect(rows.map((row) => row.action)).toEqual(['login', 'login']);
    expect(rows[1]!.seq).toBeGreaterThan(rows[0]!.seq);
    expect(JSON.parse(rows[1]!.details!)).toEqual({ client: 'lightsout-cli' });
  });
});
