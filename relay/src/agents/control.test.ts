import { ControlCloseCode, type ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { TenantLabels, registerServerMetrics } from '../inventory/metrics.js';
import {
  type RunningRelay,
  type TestAgentIdentity,
  TestControlClient,
  agentConnectToken,
  createJoinTokenAs,
  enrollTestAgent,
  isRefusal,
  loginWithDeviceFlow,
  startRelay,
} from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';

const MAX_FRAME = 4096;
let relay: RunningRelay;
let adminToken: string;
let operatorToken: string;
const open: TestControlClient[] = [];

beforeAll(async () => {
  relay = await startRelay({ config: { agents: { maxFrameBytes: MAX_FRAME } } });
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operatorToken = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
});
afterAll(async () => {
  await Promise.all(open.map((client) => client.close()));
  await relay.close();
});

async function enroll(datacenter = 'fra1'): Promise<TestAgentIdentity> {
  const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter });
  return enrollTestAgent(relay.url, token, `agent-${datacenter}`);
}

async function connect(identity: TestAgentIdentity): Promise<TestControlClient> {
  const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
  if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
  open.push(client);
  await client.next('welcome');
  return client;
}

function server(id: string, overrides: Partial<ServerRegistration> = {}): ServerRegistration {
  return { id, name: `${id}.example`, tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'], ...overrides };
}

async function api(path: string, token: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(`${relay.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as Record<string, unknown> & { code?: string } };
}

/** A second agent that keeps answering heartbeats proves one broken peer does not disturb others. */
async function stillServes(client: TestControlClient, seq: number): Promise<void> {
  client.send({ v: 1, type: 'heartbeat', seq });
  expect(await client.next('heartbeat-ack')).toEqual({ v: 1, type: 'heartbeat-ack', seq });
}

describe('control protocol: hostile frames', () => {
  const cases: Array<[string, string | Buffer, string, number]> = [
    ['not JSON', '{"v":1,', 'MALFORMED_MESSAGE', ControlCloseCode.MALFORMED_MESSAGE],
    ['unknown type', '{"v":1,"type":"launch-missiles"}', 'MALFORMED_MESSAGE', ControlCloseCode.MALFORMED_MESSAGE],
    ['binary frame', Buffer.from([1, 2, 3]), 'MALFORMED_MESSAGE', ControlCloseCode.MALFORMED_MESSAGE],
    ['oversize frame', JSON.stringify({ v: 1, type: 'heartbeat', seq: 1, pad: 'x'.repeat(MAX_FRAME * 2) }), 'FRAME_TOO_LARGE', ControlCloseCode.FRAME_TOO_LARGE],
    ['wrong version', '{"v":2,"type":"heartbeat","seq":1}', 'PROTOCOL_VERSION', ControlCloseCode.PROTOCOL_VERSION],
  ];
  for (const [name, frame, code, closeCode] of cases) {
    it(`${name} → error ${code}, close ${closeCode}, the other agent keeps working`, async () => {
      const bystander = await connect(await enroll('ams1'));
      const offender = await connect(await enroll('fra1'));
      offender.sendRaw(frame);
      expect((await offender.next('error')).error.code).toBe(code);
      expect((await offender.closed).code).toBe(closeCode);
      await stillServes(bystander, 7);
      await bystander.close();
    });
  }
});

describe('control protocol: session', () => {
  it('acks heartbeats with their sequence number', async () => {
    const client = await connect(await enroll());
    await stillServes(client, 0);
    await stillServes(client, 41);
    await client.close();
  });

  it('records the agent version from hello', async () => {
    const identity = await enroll();
    const client = await connect(identity);
    client.send({ v: 1, type: 'hello', agentVersion: '0.1.0-test', capabilities: ['ipmi'] });
    const agent = await waitFor('the agent listed with its version', async () => ((await api('/v1/agents', adminToken)).body['agents'] as Array<{ id: string; version: string; status: string }>).find((entry) => entry.id === identity.agentId && entry.version === '0.1.0-test'));
    expect(agent).toMatchObject({ version: '0.1.0-test', status: 'online' });
    await client.close();
  });

  it('counts connected agents and control messages in /metrics', async () => {
    const client = await connect(await enroll());
    await stillServes(client, 5);
    const metrics = await relay.app.metrics.registry.metrics();
    const connected = Number(/^lightsout_agents_connected\{gateway="[^"]+"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(connected).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^lightsout_control_messages_total\{direction="in",type="heartbeat"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^lightsout_control_messages_total\{direction="out",type="welcome"\} [1-9]\d*$/m);
    await client.close();
  });

  it('replaces an older connection of the same agent (close 4005)', async () => {
    const identity = await enroll();
    const first = await connect(identity);
    const second = await connect(identity);
    expect((await first.closed).code).toBe(ControlCloseCode.REPLACED);
    await stillServes(second, 3);
    await second.close();
  });
});

describe('inventory rules', () => {
  it('applies an inventory sent in parts as one full replace, when its last part arrives', async () => {
    const identity = await enroll('fra1');
    const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
    open.push(client);
    expect((await client.next('welcome')).features).toContain('inventory-parts');
    client.send({ v: 1, type: 'inventory', servers: [server('part-old')] });
    await client.next('inventory-ack');

    client.send({ v: 1, type: 'inventory', servers: [server('part-01'), server('part-02')], more: true });
    client.send({ v: 1, type: 'inventory', servers: [server('part-03')], more: true });
    // Handled in order: once this state is stored, both parts are in, and nothing is applied yet.
    client.send({ v: 1, type: 'state', serverId: 'part-old', power: 'on', reachable: true });
    await waitFor('part-old reported on', async () => (await api('/v1/servers/part-old', adminToken)).body['power'] === 'on');
    expect((await api('/v1/servers/part-01', adminToken)).status).toBe(404);
    expect((await api('/v1/servers/part-old', adminToken)).status).toBe(200);

    client.send({ v: 1, type: 'inventory', servers: [server('part-04')] });
    expect((await client.next('inventory-ack')).accepted).toEqual(['part-01', 'part-02', 'part-03', 'part-04']);
    expect((await api('/v1/servers/part-04', adminToken)).body).toMatchObject({ agentId: identity.agentId });
    expect((await api('/v1/servers/part-old', adminToken)).status).toBe(404);
    await client.close();
  });

  it('counts servers by tenant and power in /metrics, the smaller tenants beyond the limit as "other"', async () => {
    const client = await connect(await enroll('fra1'));
    client.send({ v: 1, type: 'inventory', servers: [server('count-01'), server('count-02'), server('count-03', { tenant: 'provider' })] });
    await client.next('inventory-ack');
    client.send({ v: 1, type: 'state', serverId: 'count-01', power: 'on', reachable: true });
    await waitFor('count-01 reported on', async () => (await api('/v1/servers/count-01', adminToken)).body['power'] === 'on');
    const served = await relay.app.metrics.registry.metrics();
    expect(Number(/^lightsout_servers\{tenant="demo",power="on"\} (\d+)$/m.exec(served)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^lightsout_servers\{tenant="provider",power="unknown"\} (\d+)$/m.exec(served)?.[1])).toBeGreaterThanOrEqual(1);

    const registry = new Registry();
    registerServerMetrics(registry, relay.app.store, new TenantLabels(relay.app.store, 1), () => true);
    const capped = await registry.metrics();
    const tenants = new Set([...capped.matchAll(/^lightsout_servers\{tenant="([^"]+)"/gm)].map((match) => match[1]));
    expect(tenants).toEqual(new Set(['demo', 'other']));
    await client.close();
  });

  it('refuses parts that add up to more servers than one agent may register', async () => {
    const client = await connect(await enroll('fra1'));
    // Ids only, to stay under this relay's small frame limit: the refusal is about the count.
    const ids = (from: number, count: number) => Array.from({ length: count }, (_, index) => server(`n${from + index}`, { name: 'n', endpoints: {}, capabilities: [] }));
    for (let sent = 0; sent <= 10_000; sent += 40) client.send({ v: 1, type: 'inventory', servers: ids(sent, 40), more: true });
    expect((await client.next('error', 20_000)).error.code).toBe('MALFORMED_MESSAGE');
    expect((await client.closed).code).toBe(ControlCloseCode.MALFORMED_MESSAGE);
  });

  it('places servers in the agent\'s own datacenter and refuses foreign ids and tenants it is not bound to', async () => {
    const fra = await enroll('fra1');
    const ams = await enroll('ams1');
    const fraClient = await connect(fra);
    const amsClient = await connect(ams);
    fraClient.send({ v: 1, type: 'inventory', servers: [server('web-01'), server('web-02', { tenant: 'provider' })] });
    expect(await fraClient.next('inventory-ack')).toEqual({ v: 1, type: 'inventory-ack', accepted: ['web-01', 'web-02'], rejected: [] });

    amsClient.send({ v: 1, type: 'inventory', servers: [server('web-01'), server('db-01', { tenant: 'nobody' }), server('db-02'), server('db-02')] });
    const ack = await amsClient.next('inventory-ack');
    expect(ack.accepted).toEqual(['db-02']);
    expect(ack.rejected.map((entry) => [entry.serverId, entry.error.code])).toEqual([
      ['web-01', 'CONFLICT'],
      ['db-01', 'FORBIDDEN'],
      ['db-02', 'CONFLICT'],
    ]);

    const web01 = await api('/v1/servers/web-01', adminToken);
    expect(web01.body).toMatchObject({ id: 'web-01', tenant: 'demo', region: 'eu', datacenter: 'fra1', agentId: fra.agentId, agent: 'online', power: 'unknown' });
    expect((await api('/v1/servers/db-02', adminToken)).body).toMatchObject({ datacenter: 'ams1', agentId: ams.agentId });

    // full replace: web-02 disappears when the next inventory omits it
    fraClient.send({ v: 1, type: 'inventory', servers: [server('web-01')] });
    expect((await fraClient.next('inventory-ack')).accepted).toEqual(['web-01']);
    expect((await api('/v1/servers/web-02', adminToken)).status).toBe(404);

    // state updates only for servers the agent owns
    // Handled in order: once web-01's state is stored, db-02's (sent first) was handled too.
    fraClient.send({ v: 1, type: 'state', serverId: 'db-02', power: 'on', reachable: true });
    fraClient.send({ v: 1, type: 'state', serverId: 'web-01', power: 'on', reachable: true });
    await waitFor('web-01 reported on', async () => (await api('/v1/servers/web-01', adminToken)).body['power'] === 'on');
    expect((await api('/v1/servers/db-02', adminToken)).body).toMatchObject({ power: 'unknown' });

    await fraClient.close();
    const offline = await waitFor('web-01 offline after its agent disconnected', async () => {
      const view = (await api('/v1/servers/web-01', adminToken)).body;
      return view['agent'] === 'offline' && view;
    });
    expect(offline).toMatchObject({ agent: 'offline', power: 'on' });
    await amsClient.close();
  });

  it('scopes servers by tenant: another tenant\'s server is NOT_FOUND, never FORBIDDEN', async () => {
    const identity = await enroll('par1');
    const client = await connect(identity);
    client.send({ v: 1, type: 'inventory', servers: [server('demo-box'), server('provider-box', { tenant: 'provider' })] });
    await client.next('inventory-ack');

    const operatorView = (await api('/v1/servers', operatorToken)).body['servers'] as Array<{ id: string; tenant: string }>;
    expect(operatorView.map((entry) => entry.id)).toContain('demo-box');
    expect(operatorView.every((entry) => entry.tenant === 'demo')).toBe(true);
    const adminView = (await api('/v1/servers', adminToken)).body['servers'] as Array<{ id: string }>;
    expect(adminView.map((entry) => entry.id)).toEqual(expect.arrayContaining(['demo-box', 'provider-box']));

    const foreign = await api('/v1/servers/provider-box', operatorToken);
    const missing = await api('/v1/servers/no-such-box', operatorToken);
    expect(foreign).toEqual({ status: 404, body: { code: 'NOT_FOUND', message: 'no server provider-box' } });
    expect(missing.status).toBe(404);
    for (const path of ['/power', '/boot', '/sensors', '/sel']) {
      const response = path === '/power' ? await api(`/v1/servers/provider-box${path}`, operatorToken, { method: 'POST', body: { action: 'status' } }) : await api(`/v1/servers/provider-box${path}`, operatorToken);
      expect(response.status, path).toBe(404);
    }
    await client.close();
  });
});

describe('operations forwarded to the agent', () => {
  it('resolves with the agent\'s result, rejects with its error code, AGENT_TIMEOUT and AGENT_OFFLINE', async () => {
    const identity = await enroll('lon1');
    const client = await connect(identity);
    client.send({ v: 1, type: 'inventory', servers: [server('ops-01')] });
    await client.next('inventory-ack');

    const power = api('/v1/servers/ops-01/power', operatorToken, { method: 'POST', body: { action: 'cycle' } });
    const request = await client.next('request');
    expect(request).toMatchObject({ op: 'power.set', params: { serverId: 'ops-01', action: 'cycle' } });
    client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { power: 'off' } });
    expect(await power).toMatchObject({ status: 200, body: { power: 'off', pending: { action: 'cycle', target: 'on' } } });
    // the relay confirms the cycle by reading the power: from off, a cycle is done when the BMC reports on
    const confirmRead = await client.next('request');
    expect(confirmRead).toMatchObject({ op: 'power.get', params: { serverId: 'ops-01' } });
    client.send({ v: 1, type: 'response', id: confirmRead.id, ok: true, result: { power: 'on' } });
    await waitFor('cycle confirmed', async () => (await api('/v1/servers/ops-01', operatorToken)).body.pendingPower === null);

    const sensors = api('/v1/servers/ops-01/sensors', operatorToken);
    const sensorRequest = await client.next('request');
    client.send({ v: 1, type: 'response', id: sensorRequest.id, ok: false, error: { code: 'BMC_UNREACHABLE', message: 'no answer from 127.0.0.1:623', details: { reason: 'NO_ANSWER', port: 623 } } });
    // The agent's details (why it refused) reach the caller as it said them.
    expect(await sensors).toMatchObject({ status: 502, body: { code: 'BMC_UNREACHABLE', details: { reason: 'NO_ANSWER', port: 623 } } });

    await expect(relay.app.agents.request(identity.agentId, 'sel.list', { serverId: 'ops-01' }, 150)).rejects.toMatchObject({ code: 'AGENT_TIMEOUT' });
    await client.next('request'); // the one that timed out

    const audit = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'power.cycle').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ outcome: 'success', tenant_id: 'demo', target: 'server:ops-01' });

    await client.close();
    await waitFor('agent offline', () => !relay.app.agents.isOnline(identity.agentId));
    expect(await api('/v1/servers/ops-01/power', operatorToken, { method: 'POST', body: { action: 'status' } })).toMatchObject({ status: 503, body: { code: 'AGENT_OFFLINE' } });
  });

  it('confirms a cycle of a running server whose BMC answered "off" (its off phase already seen) at the first read of "on"', async () => {
    const client = await connect(await enroll('ams1'));
    client.send({ v: 1, type: 'inventory', servers: [server('cycle-01')] });
    await client.next('inventory-ack');
    client.send({ v: 1, type: 'state', serverId: 'cycle-01', power: 'on', reachable: true });
    await waitFor('cycle-01 reported on', async () => (await api('/v1/servers/cycle-01', operatorToken)).body['power'] === 'on');
    const power = api('/v1/servers/cycle-01/power', operatorToken, { method: 'POST', body: { action: 'cycle' } });
    const request = await client.next('request');
    // A BMC whose off phase is shorter than the relay's first read (bmcsim's is 1 s) is seen off only in this answer.
    client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { power: 'off' } });
    expect(await power).toMatchObject({ status: 200, body: { power: 'off', pending: { action: 'cycle', target: 'on' } } });
    const confirmRead = await client.next('request');
    expect(confirmRead).toMatchObject({ op: 'power.get', params: { serverId: 'cycle-01' } });
    client.send({ v: 1, type: 'response', id: confirmRead.id, ok: true, result: { power: 'on' } });
    await waitFor('cycle confirmed', async () => (await api('/v1/servers/cycle-01', operatorToken)).body.pendingPower === null, { timeoutMs: 5000 });
    expect((await api('/v1/servers/cycle-01', operatorToken)).body['lastPower']).toMatchObject({ action: 'cycle', confirmed: true });
    await client.close();
  });

  it('forwards a boot request without a mode as one (the BMC keeps its mode), and the BMC read-back warning with the result', async () => {
    const client = await connect(await enroll('ams1'));
    client.send({ v: 1, type: 'inventory', servers: [server('boot-01')] });
    await client.next('inventory-ack');
    const answer = api('/v1/servers/boot-01/boot', operatorToken, { method: 'POST', body: { device: 'pxe' } });
    const request = await client.next('request');
    expect(request).toMatchObject({ op: 'boot.set' });
    expect(request.params).toEqual({ serverId: 'boot-01', device: 'pxe', persistent: false });
    const warning = 'the BMC accepted the boot override but kept the override persistent instead of for the next boot only';
    client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { device: 'pxe', persistent: true, uefi: true, warning } });
    expect(await answer).toEqual({ status: 200, body: { device: 'pxe', persistent: true, uefi: true, warning } });
    const legacy = api('/v1/servers/boot-01/boot', operatorToken, { method: 'POST', body: { device: 'pxe', uefi: false } });
    const second = await client.next('request');
    expect(second.params).toEqual({ serverId: 'boot-01', device: 'pxe', persistent: false, uefi: false });
    client.send({ v: 1, type: 'response', id: second.id, ok: true, result: { device: 'pxe', persistent: false, uefi: false } });
    expect((await legacy).status).toBe(200);
  });

  it('shows what the agent reports about the BMC link (credentials rejected, negotiated suite), and forwards a credentials retry for admins only', async () => {
    const client = await connect(await enroll('ams1'));
    client.send({ v: 1, type: 'inventory', servers: [server('creds-01')] });
    await client.next('inventory-ack');
    const rejected = { credentials: 'rejected', retryAt: '2026-12-05T02:00:00.000Z', error: { code: 'BMC_AUTH_FAILED', message: 'the BMC rejected the configured credentials' } };
    client.send({ v: 1, type: 'state', serverId: 'creds-01', power: 'unknown', reachable: false, bmc: rejected });
    await waitFor('creds-01 credentials reported rejected', async () => ((await api('/v1/servers/creds-01', adminToken)).body['bmc'] as { credentials?: string } | null)?.credentials === 'rejected');
    expect((await api('/v1/servers/creds-01', adminToken)).body).toMatchObject({ power: 'unknown', bmc: rejected });
    expect(await api('/v1/servers/creds-01/credentials/retry', operatorToken, { method: 'POST' })).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    const answer = api('/v1/servers/creds-01/credentials/retry', adminToken, { method: 'POST' });
    const request = await client.next('request');
    expect(request).toMatchObject({ op: 'credentials.retry', params: { serverId: 'creds-01' } });
    const fixed = { protocol: 'ipmi-v2.0', cipherSuite: 3 };
    client.send({ v: 1, type: 'state', serverId: 'creds-01', power: 'on', reachable: true, bmc: fixed });
    client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { power: 'on', reachable: true, bmc: fixed } });
    expect(await answer).toEqual({ status: 200, body: { power: 'on', reachable: true, bmc: fixed } });
    expect((await api('/v1/servers/creds-01', adminToken)).body).toMatchObject({ power: 'on', bmc: fixed });
    await client.close();
  });

  it('keeps a power action pending until the BMC reports its target, then stores that (not the stale answer to the command)', async () => {
    const client = await connect(await enroll('par1'));
    client.send({ v: 1, type: 'inventory', servers: [server('late-01')] });
    await client.next('inventory-ack');
    client.send({ v: 1, type: 'state', serverId: 'late-01', power: 'on', reachable: true });
    await waitFor('state on', async () => (await api('/v1/servers/late-01', operatorToken)).body.power === 'on');

    const answer = api('/v1/servers/late-01/power', operatorToken, { method: 'POST', body: { action: 'off' } });
    const command = await client.next('request');
    // a BMC that acts seconds after its 204: the state read right after is still "on"
    client.send({ v: 1, type: 'response', id: command.id, ok: true, result: { power: 'on' } });
    expect((await answer).body).toMatchObject({ power: 'on', pending: { action: 'off', target: 'off' } });
    const view = (await api('/v1/servers/late-01', operatorToken)).body;
    expect(view).toMatchObject({ power: 'on', pendingPower: { action: 'off', target: 'off' } });

    const stillOn = await client.next('request');
    expect(stillOn).toMatchObject({ op: 'power.get' });
    client.send({ v: 1, type: 'response', id: stillOn.id, ok: true, result: { power: 'on' } });
    const nowOff = await client.next('request');
    expect((await api('/v1/servers/late-01', operatorToken)).body).toMatchObject({ pendingPower: { action: 'off' } });
    client.send({ v: 1, type: 'response', id: nowOff.id, ok: true, result: { power: 'off' } });
    await waitFor('off confirmed', async () => (await api('/v1/servers/late-01', operatorToken)).body.pendingPower === null);
    expect((await api('/v1/servers/late-01', operatorToken)).body).toMatchObject({ power: 'off', lastPower: { action: 'off', target: 'off', confirmed: true } });
  });

  it('lets viewers ask for status but not act: power actions need operator', async () => {
    await relay.app.store.updateTable('users').set({ role: 'viewer' }).where('username', '=', 'operator').execute();
    try {
      expect(await api('/v1/servers/ops-01/power', operatorToken, { method: 'POST', body: { action: 'off' } })).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
      expect(await api('/v1/servers/ops-01/sel', operatorToken, { method: 'DELETE' })).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
      expect(await api('/v1/servers/ops-01/power', operatorToken, { method: 'POST', body: { action: 'status' } })).toMatchObject({ status: 503, body: { code: 'AGENT_OFFLINE' } });
    } finally {
      await relay.app.store.updateTable('users').set({ role: 'operator' }).where('username', '=', 'operator').execute();
    }
  });
});
