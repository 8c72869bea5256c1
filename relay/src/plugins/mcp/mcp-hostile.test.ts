import { AUTOMATION_TOOLS } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdentityName, type IsolationWorld, buildIsolationWorld } from '../../testing/isolation-world.js';
import { type RunningRelay, startRelay } from '../../testing/index.js';

/**
 * The MCP endpoint against callers who push on its edges: a role that may
 * not act, arguments built to bloat or overflow the audit log, and an
 * approval reused after the fleet changed under its selector. Tenant bravo
 * enables every tool and holds power off for approval.
 */
let relay: RunningRelay;
let world: IsolationWorld;

interface CallAnswer {
  isError: boolean;
  text: string;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  structured?: Record<string, unknown>;
}

/** A tools/call as raw JSON-RPC text, so arguments no JSON encoder would build (depth) can be sent. */
async function callRaw(identity: IdentityName, name: string, argumentsJson: string): Promise<CallAnswer> {
  const response = await fetch(`${relay.url}/mcp`, {
    method: 'POST',
    headers: { authorization: world.identities.get(identity)!, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${argumentsJson}}}`,
  });
  const body = await response.text();
  expect(response.status, body.slice(0, 500)).toBe(200);
  const answer = JSON.parse(body) as { result?: { isError?: boolean; content: { text: string }[]; structuredContent?: Record<string, unknown> }; error?: unknown };
  expect(answer.result, body.slice(0, 500)).toBeDefined();
  const text = answer.result!.content[0]!.text;
  const isError = answer.result!.isError === true;
  return { isError, text, ...(isError ? { error: (JSON.parse(text) as { error: CallAnswer['error'] }).error } : { structured: answer.result!.structuredContent }) };
}
const call = (identity: IdentityName, name: string, args: Record<string, unknown>) => callRaw(identity, name, JSON.stringify(args));

async function principalOf(identity: IdentityName) {
  return relay.app.identity.principalFromToken(world.identities.get(identity)!.slice('Bearer '.length));
}
const auditRows = (action: string) => relay.app.store.selectFrom('audit').selectAll().where('action', '=', action).orderBy('seq').execute();

beforeAll(async () => {
  relay = await startRelay();
  world = await buildIsolationWorld(relay);
  await relay.app.store.insertInto('automation_policies').values({ tenant_id: 'bravo', policy: JSON.stringify({ tools: AUTOMATION_TOOLS, console: { allow: ['.*'] }, approval: { power: ['off'] } }), updated_at: Date.now(), updated_by: 'test' }).execute();
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('MCP tools under hostile calls', () => {
  it('refuses a bulk power off to a role that may not power off before asking anyone to approve it', async () => {
    const viewer = await principalOf('bravo-viewer');
    const answer = await call('bravo-viewer', 'bulk_action', { selector: { ids: ['bravo-web-1'] }, operation: { kind: 'power', action: 'off' } });
    expect(answer.error?.code, answer.text).toBe('FORBIDDEN');
    expect(await relay.app.store.selectFrom('automation_approvals').selectAll().where('subject', '=', viewer.subject).execute()).toEqual([]);
  });

  it('audits an oversized argument without storing it: a short target, bounded details', async () => {
    const answer = await call('bravo-operator', 'get_server', { server_id: 'x'.repeat(900 * 1024) });
    expect(answer.error?.code, answer.text.slice(0, 500)).toBe('VALIDATION_FAILED');
    const [row, ...more] = await auditRows('mcp.get_server');
    expect(more).toEqual([]);
    expect(row!.target === null || row!.target.length < 100, row!.target?.slice(0, 200)).toBe(true);
    expect(row!.details!.length).toBeLessThan(8 * 1024);
  });

  it('answers arguments nested 100000 deep with VALIDATION_FAILED and audits the call once', async () => {
    const depth = 100_000;
    const answer = await callRaw('bravo-operator', 'read_sensors', `{"server_id":"bravo-web-1","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    expect(answer.error?.code, answer.text.slice(0, 500)).toBe('VALIDATION_FAILED');
    const rows = await auditRows('mcp.read_sensors');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details!.length).toBeLessThan(8 * 1024);
  });

  it('spends a bulk approval only on the servers the approver saw', async () => {
    const now = Date.now();
    const store = relay.app.store;
    const bravoWeb1 = await store.selectFrom('servers').selectAll().where('id', '=', 'bravo-web-1').executeTakeFirstOrThrow();
    await store.updateTable('servers').set({ labels: JSON.stringify({ role: 'web' }) }).where('id', '=', 'bravo-web-1').execute();
    await store.insertInto('servers').values({ ...bravoWeb1, id: 'bravo-web-2', name: 'bravo web 2', labels: JSON.stringify({}), state_at: now, updated_at: now }).execute();
    const request = { selector: { labels: { role: 'web' } }, operation: { kind: 'power', action: 'off' }, wait_seconds: 0 };

    const held = await call('bravo-operator', 'bulk_action', request);
    expect(held.error?.code, held.text).toBe('APPROVAL_REQUIRED');
    const approvalId = held.error!.details!['approvalId'] as string;
    const approved = await fetch(`${relay.url}/v1/automation/approvals/${approvalId}/approve`, { method: 'POST', headers: { authorization: world.identities.get('bravo-tenant-admin')! } });
    expect(approved.status, await approved.text()).toBe(200);

    // The same selector and count, other servers: the approval is not for them.
    await store.updateTable('servers').set({ labels: JSON.stringify({}) }).where('id', '=', 'bravo-web-1').execute();
    await store.updateTable('servers').set({ labels: JSON.stringify({ role: 'web' }) }).where('id', '=', 'bravo-web-2').execute();
    const moved = await call('bravo-operator', 'bulk_action', { ...request, approval_id: approvalId });
    expect(moved.error?.code, moved.text).toBe('NOT_FOUND');

    // Labelled back, the approved call runs once.
    await store.updateTable('servers').set({ labels: JSON.stringify({ role: 'web' }) }).where('id', '=', 'bravo-web-1').execute();
    await store.updateTable('servers').set({ labels: JSON.stringify({}) }).where('id', '=', 'bravo-web-2').execute();
    const ran = await call('bravo-operator', 'bulk_action', { ...request, approval_id: approvalId });
    expect(ran.structured, ran.text).toMatchObject({ dry_run: false, total: 1, job_id: expect.any(String) });
  });
});
