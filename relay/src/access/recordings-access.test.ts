import { join } from 'node:path';
import type { AuditPage, RecordingMeta } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, ensureTenant } from '../identity/accounts.js';
import { FileRecordingStorage } from '../plugins/streams/recordings/storage.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { createApiToken } from './api-tokens.js';

/**
 * Who reads console recordings (they hold what was typed, passwords
 * included): `recordings.read` (tenant admins) reads the tenant's recordings
 * of servers in their grants; everyone else only their own sessions', and
 * also only while the server is in their grants.
 */
const PASSWORD = 'recordings-access-password';
let relay: RunningRelay;
const tokens = new Map<string, string>();
const ids = new Map<string, string>();
const recordingIds = { olgaSim01: '', olgaSim02: '', vicSim01: '', otherTenant: '', olgaTooLarge: '' };
/** Small, so that a test recording can be larger than what a download renders. */
const RECORDING_MAX_BYTES = 64;

async function get(url: string, who: string) {
  const response = await relay.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens.get(who)!}` } });
  return { status: response.statusCode, body: response.body };
}

beforeAll(async () => {
  relay = await startRelay({ config: { store: { recordingMaxBytes: RECORDING_MAX_BYTES } } });
  const { store } = relay.app;
  const now = Date.now();
  await ensureTenant(store, 'bravo', 'Bravo');
  await store.insertInto('agents').values({ id: 'agent-1', name: 'agent-1', region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: now }).execute();
  const server = (id: string, tenant: string) => ({ id, name: id, tenant_id: tenant, region: 'eu', datacenter: 'fra1', rack: 'r1', labels: '{}', endpoints: '{}', capabilities: '["power","sol"]', agent_id: 'agent-1', power: 'on', reachable: 1, state_at: now, updated_at: now });
  await store.insertInto('servers').values([server('sim-01', 'demo'), server('sim-02', 'demo'), server('bravo-01', 'bravo')]).execute();

  const users: Array<[string, string, 'viewer' | 'operator' | 'tenant-admin']> = [
    ['vic', 'demo', 'viewer'],
    ['olga', 'demo', 'operator'],
    ['tad', 'demo', 'tenant-admin'],
    ['narrow-admin', 'demo', 'tenant-admin'],
    ['bravo-admin', 'bravo', 'tenant-admin'],
  ];
  for (const [username, tenant, role] of users) ids.set(username, (await createUser(store, { tenant, username, password: PASSWORD, role })).id);
  const grant = (user: string, serverIds: string[]) => ({ id: `grant-${user}`, tenant_id: 'demo', subject: ids.get(user)!, selector: JSON.stringify({ kind: 'servers', ids: serverIds }), created_by: 'test', created_at: now });
  await store.insertInto('grants').values([grant('vic', ['sim-01']), grant('narrow-admin', ['sim-01'])]).execute();
  for (const [username] of users) tokens.set(username, (await loginWithPassword(relay.url, username, PASSWORD)).accessToken);
  tokens.set('admin-token', (await createApiToken(store, { tenant: 'demo', name: 'siem', role: 'tenant-admin', ttlSeconds: 3600, createdBy: 'test' })).token);

  // Recordings as the recorder writes them (one per session), each with what was typed on it.
  const storage = new FileRecordingStorage(join(relay.dataDir, 'recordings'));
  let sequence = 0;
  const record = async (serverId: string, tenant: string, user: string, text: string): Promise<string> => {
    sequence += 1;
    const id = `rec${String(sequence).padStart(19, '0')}`;
    const meta: RecordingMeta & { subject: string } = { id, sessionId: id, serverId, tenant, kind: 'sol', user, subject: ids.get(user) ?? user, startedAt: now + sequence };
    const writer = storage.writer(meta);
    writer.append(Buffer.from(text), now);
    writer.close();
    await writer.idle();
    expect((await storage.read(id))?.bytes.length, `recording ${id} on disk`).toBe(text.length);
    return id;
  };
  recordingIds.olgaSim01 = await record('sim-01', 'demo', 'olga', 'login: root\r\nPassword: olga-sim01-secret\r\n');
  recordingIds.olgaSim02 = await record('sim-02', 'demo', 'olga', 'login: root\r\nPassword: olga-sim02-secret\r\n');
  recordingIds.vicSim01 = await record('sim-01', 'demo', 'vic', 'watching sim-01\r\n');
  recordingIds.otherTenant = await record('bravo-01', 'bravo', 'bravo-admin', 'bravo secret\r\n');
  // Stored by a relay with a larger limit (or none, before there was one).
  recordingIds.olgaTooLarge = await record('sim-01', 'demo', 'olga', 'x'.repeat(RECORDING_MAX_BYTES + 1));
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

const listed = async (who: string) => {
  const answer = await get('/v1/recordings', who);
  expect(answer.status, who).toBe(200);
  return (JSON.parse(answer.body) as { recordings: RecordingMeta[] }).recordings.map((meta) => meta.id).sort();
};

describe('recordings: recordings.read and per-server grants', () => {
  it('a viewer granted only sim-01 cannot read a sim-02 recording, nor another user\'s sim-01 one', async () => {
    expect((await get(`/v1/recordings/${recordingIds.olgaSim02}`, 'vic')).status).toBe(404);
    expect((await get(`/v1/recordings/${recordingIds.olgaSim01}`, 'vic')).status).toBe(404);
    expect(await listed('vic')).toEqual([recordingIds.vicSim01]);
    // Their own session on a server still in their grants: theirs to replay.
    const own = await get(`/v1/recordings/${recordingIds.vicSim01}`, 'vic');
    expect(own.status).toBe(200);
    expect(own.body).toContain('watching sim-01');
  });

  it('the list says how much each recording holds and when it last grew', async () => {
    const answer = await get('/v1/recordings', 'vic');
    const [entry] = (JSON.parse(answer.body) as { recordings: (RecordingMeta & { bytes?: number; lastWrittenAt?: number })[] }).recordings;
    expect(entry?.bytes).toBe('watching sim-01\r\n'.length);
    expect(entry?.lastWrittenAt).toBeGreaterThanOrEqual(entry!.startedAt - 1000);
  });

  it('audits each download: who took a copy of which recording (it holds what was typed)', async () => {
    expect((await get(`/v1/recordings/${recordingIds.olgaSim01}`, 'olga')).status).toBe(200);
    const downloads = async () => {
      const answer = await get('/v1/audit?order=asc&limit=500', 'tad');
      return (JSON.parse(answer.body) as AuditPage).records.filter((record) => record.action === 'recording.download' && record.target === `recording:${recordingIds.olgaSim01}`);
    };
    await expect.poll(async () => (await downloads()).map((record) => [record.subject, record.details?.['serverId']]), { timeout: 10_000 }).toEqual([[ids.get('olga'), 'sim-01']]);
    // A refused read is no download.
    expect((await get(`/v1/recordings/${recordingIds.olgaSim01}`, 'vic')).status).toBe(404);
    expect(await downloads()).toHaveLength(1);
  });

  it('an operator reads their own recordings only', async () => {
    expect(await listed('olga')).toEqual([recordingIds.olgaSim01, recordingIds.olgaSim02, recordingIds.olgaTooLarge].sort());
    expect((await get(`/v1/recordings/${recordingIds.olgaSim02}`, 'olga')).body).toContain('olga-sim02-secret');
    expect((await get(`/v1/recordings/${recordingIds.vicSim01}`, 'olga')).status).toBe(404);
  });

  it('a tenant admin reads the tenant\'s recordings within their grants; never another tenant\'s', async () => {
    expect(await listed('tad')).toEqual([recordingIds.olgaSim01, recordingIds.olgaSim02, recordingIds.olgaTooLarge, recordingIds.vicSim01].sort());
    expect((await get(`/v1/recordings/${recordingIds.olgaSim02}`, 'tad')).body).toContain('olga-sim02-secret');
    expect(await listed('narrow-admin')).toEqual([recordingIds.olgaSim01, recordingIds.olgaTooLarge, recordingIds.vicSim01].sort());
    expect((await get(`/v1/recordings/${recordingIds.olgaSim02}`, 'narrow-admin')).status).toBe(404);
    expect((await get(`/v1/recordings/${recordingIds.otherTenant}`, 'tad')).status).toBe(404);
    expect(await listed('bravo-admin')).toEqual([recordingIds.otherTenant]);
    // A tenant-admin API token holds recordings.read like the role (an archive or SIEM job).
    expect(await listed('admin-token')).toEqual([recordingIds.olgaSim01, recordingIds.olgaSim02, recordingIds.olgaTooLarge, recordingIds.vicSim01].sort());
  });
});

describe('recordings: download size', () => {
  it('a recording larger than store.recordingMaxBytes is refused 413 PAYLOAD_TOO_LARGE before it is read, and the relay goes on serving', async () => {
    const answer = await get(`/v1/recordings/${recordingIds.olgaTooLarge}`, 'olga');
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: `recording ${recordingIds.olgaTooLarge} holds ${RECORDING_MAX_BYTES + 1} bytes; a download renders at most ${RECORDING_MAX_BYTES}`, hint: expect.stringContaining('store.recordingMaxBytes') });
    expect(await listed('olga')).toContain(recordingIds.olgaTooLarge);
    expect((await get(`/v1/recordings/${recordingIds.olgaSim01}`, 'olga')).status).toBe(200);
  });
});
