import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../identity/verifier.js';
import { type Store, openStore } from '../store/open.js';
import { postgresForThisFile } from '../testing/dialects.js';
import { ServerEvents } from './events.js';
import { ServerLiveStatus } from './live-status.js';
import { findServer, toServerView } from './servers.js';

/**
 * The pending power action, its outcome and the mounted media are kept in
 * the server's row, so two replicas (two connections to one PostgreSQL,
 * each with its own ServerLiveStatus) show the same: what one wrote, the
 * other's view has in its very next read; a settle from the replica whose
 * action was replaced by a newer one (from another replica) changes
 * nothing; a pending action whose replica died is not shown past its
 * `until`.
 */
const postgres = postgresForThisFile();
const admin = { subject: 'admin', role: 'provider-admin', tenant: 'provider' } as unknown as Principal;

describe('a server’s live status through two replicas on PostgreSQL', () => {
  let a: { store: Store; status: ServerLiveStatus; changed: string[] };
  let b: { store: Store; status: ServerLiveStatus; changed: string[] };

  const replica = async () => {
    const store = await openStore({ dataDir: '/nonexistent', store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
    const events = new ServerEvents();
    const changed: string[] = [];
    events.subscribe((change) => changed.push(...change.changed));
    return { store, status: new ServerLiveStatus(store, events), changed };
  };
  const view = async (at: { store: Store }) => toServerView(await findServer(at.store, admin, 'web-01'), () => true);

  beforeAll(async () => {
    a = await replica();
    b = await replica();
    await a.store.insertInto('tenants').values({ id: 'demo', name: 'Demo', created_at: 1 }).execute();
    await a.store.insertInto('agents').values({ id: 'agent-a', name: 'agent-a', region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1 }).execute();
    await a.store.insertInto('servers').values({ id: 'web-01', name: 'web-01', tenant_id: 'demo', region: 'eu', datacenter: 'fra1', rack: 'r1', labels: '{}', endpoints: '{}', capabilities: '[]', agent_id: 'agent-a', power: 'on', reachable: 1, state_at: 1, updated_at: 1 }).execute();
  });
  afterAll(async () => {
    await a?.store.destroy();
    await b?.store.destroy();
  });

  it('a mount reported at one replica shows at the other; an eject reported there clears it at the first', async () => {
    const mounted = { filename: 'debian-12.iso', since: '2026-01-01T00:00:00.000Z', by: 'operator' };
    expect((await view(b)).media).toBeNull();
    await a.status.setMedia('web-01', mounted);
    expect((await view(b)).media).toEqual(mounted);
    expect(a.changed).toContain('web-01');
    await b.status.setMedia('web-01', null);
    expect((await view(a)).media).toBeNull();
  });

  it('a pending action written at one replica is seen at the other at once; the older one’s settle leaves a newer action alone', async () => {
    const until = Date.now() + 60_000;
    const cycle = { action: 'cycle', target: 'on', since: new Date().toISOString() } as const;
    await a.status.powerPending('web-01', cycle, until);
    expect((await view(b)).pendingPower).toEqual(cycle);
    // A newer action through the other replica replaces it there.
    const off = { action: 'off', target: 'off', since: new Date(Date.now() + 1).toISOString() } as const;
    await b.status.powerPending('web-01', off, until);
    const cycleOutcome = { action: 'cycle', target: 'on', confirmed: false, at: new Date().toISOString(), seconds: 1 } as const;
    await a.status.powerSettled('web-01', cycle, until, cycleOutcome);
    expect(await view(a)).toMatchObject({ pendingPower: off, lastPower: null });
    const offOutcome = { action: 'off', target: 'off', confirmed: true, at: new Date().toISOString(), seconds: 2 } as const;
    await b.status.powerSettled('web-01', off, until, offOutcome);
    expect(await view(a)).toMatchObject({ pendingPower: null, lastPower: offOutcome });
  });

  it('a pending action past its until (its replica died confirming it) shows as none', async () => {
    const on = { action: 'on', target: 'on', since: new Date().toISOString() } as const;
    await a.status.powerPending('web-01', on, Date.now() - 1);
    expect((await view(b)).pendingPower).toBeNull();
  });
});
