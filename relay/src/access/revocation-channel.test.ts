import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFY_CHANNEL } from './revocation-channels.js';
import { postgresForThisFile } from '../testing/dialects.js';
import { type RunningRelay, loginWithPassword, sharedAtRestKeyFile, startRelay } from '../testing/index.js';
import { openLiveConsole, openLiveFeed, resumeOutcome } from '../testing/live-connections.js';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * Revocation notices reach every relay on the store: with two relays on one
 * PostgreSQL database, a change made through relay A ends what relay B
 * holds (console legs, event feeds) within a second — also when B's LISTEN
 * connection was cut just before. On SQLite, one relay: a notice outlives a
 * restart, so a resume token revoked before it stays refused after.
 */
const PASSWORD = 'revocation-channel-password';

async function api(relay: RunningRelay, method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

const sol = (id: string) => ({ id, name: id, tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol', 'media'] as never[] });

describe('on PostgreSQL: two relays on one database', () => {
  const postgres = postgresForThisFile();
  let relayA: RunningRelay;
  let relayB: RunningRelay;
  let adminA: string;
  let adminB: string;
  let agent: ScriptedAgent;

  beforeAll(async () => {
    const postgresUrl = await postgres().createDatabase('revocation_channel');
    // One deployment, one at-rest key file: it opens the signing keys both relays read from the store.
    const config = { store: { driver: 'postgres', postgresUrl }, identity: { totpKeyFile: sharedAtRestKeyFile() } } as never;
    relayA = await startRelay({ config });
    relayB = await startRelay({ config });
    adminA = (await loginWithPassword(relayA.url, 'admin', relayA.credentials.admin.password)).accessToken;
    adminB = (await loginWithPassword(relayB.url, 'admin', relayB.credentials.admin.password)).accessToken;
    await api(relayA, 'POST', '/v1/tenants', adminA, { id: 'bravo', name: 'Bravo' });
    // The agent and every console are on relay B; every change goes through relay A.
    agent = await ScriptedAgent.start(relayB.url, adminB, [sol('pg-1'), sol('pg-2'), sol('pg-3')]);
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await relayB?.close();
    await relayA?.close();
  });

  async function userOnB(username: string): Promise<{ id: string; token: string }> {
    const created = await api(relayA, 'POST', '/v1/users', adminA, { username, password: PASSWORD, role: 'operator', tenant: 'demo' });
    return { id: String(created['id']), token: (await loginWithPassword(relayB.url, username, PASSWORD)).accessToken };
  }

  it('a user disabled through A: their console and event feed on B end within a second, their resume token is refused on B', async () => {
    const user = await userOnB('pg-leaver');
    const live = await openLiveConsole(relayB, user.token, 'pg-1');
    const feed = await openLiveFeed(relayB, user.token);
    await api(relayA, 'PATCH', `/v1/users/${user.id}`, adminA, { disabled: true });
    const answered = Date.now();
    const [legClosed, feedClosed] = await Promise.all([live.closed, feed.closed]);
    console.log(`disabled through A: console on B closed ${legClosed.at - answered} ms, feed on B ${feedClosed.at - answered} ms after A answered`);
    expect([legClosed.code, feedClosed.code]).toEqual([4403, 4403]);
    expect(legClosed.at - answered).toBeLessThanOrEqual(1000);
    expect(feedClosed.at - answered).toBeLessThanOrEqual(1000);
    expect(await resumeOutcome(live)).toBe(403);
  });

  it('a server moved through A: the old tenant\'s console on B ends within a second, its recording on B stops, B tells the agent and the old tenant\'s image is ejected', async () => {
    const user = await userOnB('pg-mover');
    const live = await openLiveConsole(relayB, user.token, 'pg-2');
    expect(relayB.app.streams.recorder.isRecording(live.session.sessionId)).toBe(true);
    agent.mounts.set('pg-2', { sha256: 'cd'.repeat(32), filename: 'demo-on-b.iso', mountedAt: new Date().toISOString(), mountedBy: 'pg-mover', autoEjectAt: null });
    await api(relayA, 'PUT', '/v1/servers/pg-2/tenant', adminA, { tenant: 'bravo' });
    const answered = Date.now();
    const closed = await live.closed;
    console.log(`moved through A: console on B closed ${closed.at - answered} ms after A answered`);
    expect(closed.code).toBe(4403);
    expect(closed.at - answered).toBeLessThanOrEqual(1000);
    await agent.until(() => agent.requests.some((request) => request.op === 'server.assign' && request.params['serverId'] === 'pg-2' && request.params['tenant'] === 'bravo'), 'server.assign from relay B');
    expect(relayB.app.streams.recorder.isRecording(live.session.sessionId)).toBe(false);
    await agent.until(() => agent.requests.some((request) => request.op === 'media.eject' && request.params['serverId'] === 'pg-2'), 'the old tenant\'s image ejected through relay B');
    expect(agent.mounts.has('pg-2')).toBe(false);
    expect(await resumeOutcome(live)).toBe(404);
  });

  it('B\'s LISTEN connection cut just before: the notice still arrives within a second (B re-reads the store)', async () => {
    const user = await userOnB('pg-while-deaf');
    const live = await openLiveConsole(relayB, user.token, 'pg-3');
    const admin = new pg.Client({ connectionString: relayA.config.store.postgresUrl });
    await admin.connect();
    try {
      // Both relays LISTEN; cut them all: A acts on its own notices before it publishes, B must re-read.
      const cut = await admin.query<{ terminated: boolean }>(`select pg_terminate_backend(pid) as terminated from pg_stat_activity where query = 'LISTEN ${NOTIFY_CHANNEL}'`);
      expect(cut.rows.length).toBeGreaterThanOrEqual(2);
    } finally {
      await admin.end();
    }
    await api(relayA, 'PATCH', `/v1/users/${user.id}`, adminA, { disabled: true });
    const answered = Date.now();
    const closed = await live.closed;
    console.log(`disabled through A while B's LISTEN was cut: console on B closed ${closed.at - answered} ms after A answered`);
    expect(closed.code).toBe(4403);
    expect(closed.at - answered).toBeLessThanOrEqual(1000);
  });
});

describe('on SQLite: one relay', () => {
  it('a notice outlives a restart: a resume token revoked before it is refused after it', async () => {
    let relay = await startRelay();
    const dataDir = relay.dataDir;
    const { port } = relay;
    let agent: ScriptedAgent | undefined;
    try {
      const admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
      agent = await ScriptedAgent.start(relay.url, admin, [sol('lite-1')]);
      const created = await api(relay, 'POST', '/v1/users', admin, { username: 'lite-demoted', password: PASSWORD, role: 'operator', tenant: 'demo' });
      const user = (await loginWithPassword(relay.url, 'lite-demoted', PASSWORD)).accessToken;
      const live = await openLiveConsole(relay, user, 'lite-1');
      // Still a user (a viewer now), so only the notice can refuse the resume token of the control session.
      await api(relay, 'PATCH', `/v1/users/${String(created['id'])}`, admin, { role: 'viewer' });
      expect((await live.closed).code).toBe(4403);
      await agent.stop();
      agent = undefined;
      await relay.app.close();
      relay = await startRelay({ dataDir, port });
      expect(await resumeOutcome(live)).toBe(403);
    } finally {
      await agent?.stop();
      await relay.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
