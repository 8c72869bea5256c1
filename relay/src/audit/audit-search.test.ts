import type { AuditPage } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * The audit log as an administrator reads it (GET /v1/audit): narrowed by
 * who acted (a username), the server, the action and the time, newest first
 * when asked, each record naming its actor — and each action recorded once.
 */
let relay: RunningRelay;
let admin: string;
let operator: string;
let agent: ScriptedAgent;
const PASSWORD = 'audit-search-password';

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function page(token: string, query: string): Promise<AuditPage> {
  const answer = await api('GET', `/v1/audit?${query}`, token);
  if (answer.status !== 200) throw new Error(`GET /v1/audit?${query}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as AuditPage;
}

beforeAll(async () => {
  relay = await startRelay();
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  const server = (id: string) => ({ id, name: id, tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623', redfish: 'https://127.0.0.1:8443' }, capabilities: ['power', 'sol', 'media'] as never[] });
  agent = await ScriptedAgent.start(relay.url, admin, [server('media-1'), server('media-2')]);
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

describe('virtual media actions are audited once', () => {
  it('an eject is one media.eject record, with its outcome', async () => {
    agent.mounts.set('media-1', { sha256: 'cd'.repeat(32), filename: 'rescue.iso', mountedAt: new Date().toISOString(), mountedBy: 'operator', autoEjectAt: null });
    expect((await api('DELETE', '/v1/servers/media-1/media', operator)).status).toBe(200);
    const records = (await page(admin, 'action=media.eject&server=media-1')).records;
    expect(records.map((record) => `${record.action}:${record.outcome}:${record.actor}`)).toEqual(['media.eject:success:operator']);
  });

  it('a refused mount is one media.mount record, a failure', async () => {
    expect((await api('POST', '/v1/servers/media-2/media', operator, { uploadId: '0'.repeat(32) })).body['code']).toBe('NOT_FOUND');
    const records = (await page(admin, 'action=media.mount&server=media-2')).records;
    expect(records.map((record) => `${record.action}:${record.outcome}`)).toEqual(['media.mount:failure']);
  });
});

describe('searching the audit log', () => {
  it('by user (a username, never an id), action family, server and time, newest first, each record naming its actor', async () => {
    const before = Date.now();
    const created = await api('POST', '/v1/users', admin, { username: 'auditee', password: PASSWORD, role: 'operator', tenant: 'demo' });
    expect(created.status).toBe(201);
    expect((await api('POST', '/v1/grants', admin, { userId: created.body['id'], selector: { kind: 'servers', ids: ['media-1'] } })).status).toBe(201);
    const auditee = (await loginWithPassword(relay.url, 'auditee', PASSWORD)).accessToken;
    expect((await api('DELETE', '/v1/servers/media-1/media', auditee)).status).toBe(200);

    const byAdmin = await page(admin, `user=admin&since=${before}&order=desc`);
    expect(byAdmin.records.map((record) => record.action)).toEqual(['grant.create', 'user.create']);
    expect(byAdmin.records.every((record) => record.actor === 'admin')).toBe(true);
    expect((await page(admin, `user=admin&action=grant&since=${before}`)).records.map((record) => `${record.action} ${record.target}`)).toEqual(['grant.create user:auditee']);
    // A family is `grant` and `grant.*`, not every action that starts with the letters.
    expect((await page(admin, `user=admin&action=gran&since=${before}`)).records).toEqual([]);
    expect((await page(admin, `user=auditee&server=media-1`)).records.every((record) => record.actor === 'auditee' && record.target === 'server:media-1')).toBe(true);
    expect((await page(admin, `user=nobody-by-that-name`)).records).toEqual([]);
    // An API token's actions and the records about it name it, not its id.
    const token = await api('POST', '/v1/tokens', admin, { name: 'nightly', role: 'viewer', tenant: 'demo' });
    expect((await api('GET', '/v1/servers', String(token.body['token']))).status).toBe(200);
    expect((await api('POST', `/v1/tokens/${String(token.body['id'])}/revoke`, admin)).status).toBe(200);
    const revoked = (await page(admin, 'action=token.revoke&order=desc&limit=1')).records[0]!;
    expect({ actor: revoked.actor, target: revoked.target, targetName: revoked.targetName }).toEqual({ actor: 'admin', target: `token:${String(token.body['id'])}`, targetName: 'token:nightly' });
    expect((await page(admin, `user=admin&until=${before}`)).records.every((record) => record.time < before)).toBe(true);
    expect((await page(admin, `user=admin&since=${Date.now() + 60_000}`)).records).toEqual([]);
  });

  it('pages newest first with before, and refuses after on a newest-first read', async () => {
    const first = await page(admin, 'order=desc&limit=3');
    expect(first.records).toHaveLength(3);
    expect(first.records[0]!.seq).toBeGreaterThan(first.records[2]!.seq);
    const second = await page(admin, `order=desc&limit=3&before=${first.next}`);
    expect(second.records[0]!.seq).toBe(first.records[2]!.seq - 1);
    const refused = await api('GET', '/v1/audit?order=desc&after=1', admin);
    expect({ status: refused.status, code: refused.body['code'] }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('a tenant admin finds a username only in their own tenant', async () => {
    expect((await api('POST', '/v1/tenants', admin, { id: 'other', name: 'Other' })).status).toBe(201);
    expect((await api('POST', '/v1/users', admin, { username: 'other-admin', password: PASSWORD, role: 'tenant-admin', tenant: 'other' })).status).toBe(201);
    const otherAdmin = (await loginWithPassword(relay.url, 'other-admin', PASSWORD)).accessToken;
    expect((await page(otherAdmin, 'user=operator')).records).toEqual([]);
    expect((await page(admin, 'user=operator')).records.length).toBeGreaterThan(0);
  });
});
