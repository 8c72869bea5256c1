import { createHash } from 'node:crypto';
import { freeTcpPort } from '@lightsout/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLiveConsole } from '../testing/live-connections.js';
import { type RunningRelay, loginWithPassword, postgresForThisFile, sharedAtRestKeyFile, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * The operator's view of a deployment: a manager-side replica (A) and a
 * gateway (B) on one PostgreSQL, each scraped on its own /metrics. Series a
 * replica counts itself carry its `gateway` name; the store-derived ones are
 * the same on both. Every value is asserted after the real action that
 * should have moved it.
 */
const postgres = postgresForThisFile();
let relayA: RunningRelay;
let relayB: RunningRelay;
let admin: string;
let agent: ScriptedAgent | undefined;

async function scrape(relay: RunningRelay): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${relay.app.metrics.address()!.port}/metrics`);
  return response.text();
}

/** The value of one series (labels in the order prom-client writes them), undefined when absent. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function seriesOf(relay: RunningRelay, series: string): Promise<number | undefined> {
  return valueOf(await scrape(relay), series);
}

async function api(relay: RunningRelay, method: string, path: string, body?: unknown, token = admin): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const server = (id: string, tenant: string) => ({ id, name: id, tenant, rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] as never[] });

beforeAll(async () => {
  const postgresUrl = await postgres().createDatabase('gateway_metrics');
  // One deployment: A's URL is its URL (issuer, token audiences), so a token from A is good on B.
  const portA = await freeTcpPort();
  const shared = { store: { driver: 'postgres', postgresUrl }, identity: { totpKeyFile: sharedAtRestKeyFile() }, deploymentUrl: `http://127.0.0.1:${portA}` };
  // A names one tenant and sums the rest as "other"; B names up to the default.
  relayA = await startRelay({ port: portA, config: { ...shared, metrics: { port: 0, gateway: 'manager-1', maxTenants: 1 } } });
  relayB = await startRelay({ config: { ...shared, metrics: { port: 0, gateway: 'eu-gw-1' } } });
  admin = (await loginWithPassword(relayA.url, 'admin', relayA.credentials.admin.password)).accessToken;
  expect((await api(relayA, 'POST', '/v1/tenants', { id: 'bravo', name: 'Bravo' })).status).toBe(201);
}, 120_000);
afterAll(async () => {
  await agent?.stop();
  await relayB?.close();
  await relayA?.close();
});

describe('per-gateway and per-tenant metrics of a deployment', () => {
  it('each replica reports its own agents: 0 before, 1 on the gateway the agent connected to, 0 on the other', async () => {
    expect(await seriesOf(relayA, 'lightsout_agents_connected{gateway="manager-1"}')).toBe(0);
    expect(await seriesOf(relayB, 'lightsout_agents_connected{gateway="eu-gw-1"}')).toBe(0);
    agent = await ScriptedAgent.start(relayB.url, admin, [server('m-1', 'demo'), server('m-2', 'demo'), server('m-3', 'bravo')]);
    expect(await seriesOf(relayB, 'lightsout_agents_connected{gateway="eu-gw-1"}')).toBe(1);
    expect(await seriesOf(relayA, 'lightsout_agents_connected{gateway="manager-1"}')).toBe(0);
  });

  it('servers by tenant and agent state are the deployment\'s on every replica, tenants beyond maxTenants as "other"', async () => {
    // A learns of the agent on B from its presence message: wait for it, then read exact values.
    await waitFor('A to count demo\'s servers online', async () => (await seriesOf(relayA, 'lightsout_tenant_servers{tenant="demo",agent_state="online"}')) === 2);
    const onA = await scrape(relayA);
    expect(valueOf(onA, 'lightsout_tenant_servers{tenant="other",agent_state="online"}')).toBe(1);
    expect(valueOf(onA, 'lightsout_tenant_servers{tenant="bravo",agent_state="online"}')).toBeUndefined();
    const onB = await scrape(relayB);
    expect(valueOf(onB, 'lightsout_tenant_servers{tenant="demo",agent_state="online"}')).toBe(2);
    expect(valueOf(onB, 'lightsout_tenant_servers{tenant="bravo",agent_state="online"}')).toBe(1);
  });

  it('BMC operations are counted per tenant and result on the replica that served them', async () => {
    expect((await api(relayA, 'POST', '/v1/servers/m-1/power', { action: 'status' })).status).toBe(200);
    expect((await api(relayA, 'POST', '/v1/servers/m-3/power', { action: 'status' })).status).toBe(200);
    // The scripted agent has no sensors: the agent's BMC_UNSUPPORTED is the result.
    expect((await api(relayA, 'GET', '/v1/servers/m-2/sensors')).body['code']).toBe('BMC_UNSUPPORTED');
    const onA = await scrape(relayA);
    expect(valueOf(onA, 'lightsout_tenant_bmc_operations_total{gateway="manager-1",tenant="demo",result="ok"}')).toBe(1);
    expect(valueOf(onA, 'lightsout_tenant_bmc_operations_total{gateway="manager-1",tenant="other",result="ok"}')).toBe(1);
    expect(valueOf(onA, 'lightsout_tenant_bmc_operations_total{gateway="manager-1",tenant="demo",result="BMC_UNSUPPORTED"}')).toBe(1);
    expect(await scrape(relayB)).not.toMatch(/^lightsout_tenant_bmc_operations_total\{/m);
  });

  it('a bulk job counts each server\'s outcome under its tenant', async () => {
    // A bulk job acts in its caller's tenant: demo's operator.
    const operator = (await loginWithPassword(relayA.url, 'operator', relayA.credentials.operator.password)).accessToken;
    const submitted = await api(relayB, 'POST', '/v1/bulk', { selector: { ids: ['m-1', 'm-2'] }, operation: { kind: 'sensors.read' } }, operator);
    expect(submitted.status).toBe(202);
    const done = await waitFor('the bulk job to finish', async () => {
      const job = (await api(relayB, 'GET', `/v1/bulk/${String(submitted.body['jobId'])}`, undefined, operator)).body as { results?: unknown[] };
      return (job.results?.length ?? 0) === 2 ? job : undefined;
    });
    expect(done.results).toHaveLength(2);
    expect(await seriesOf(relayB, 'lightsout_tenant_bmc_operations_total{gateway="eu-gw-1",tenant="demo",result="BMC_UNSUPPORTED"}')).toBe(2);
  });

  it('a SOL session opened through A is counted on the gateway holding its leg, and its bytes by direction', async () => {
    const live = await openLiveConsole(relayA, admin, 'm-1');
    expect(new URL(live.session.streamUrl).port).toBe(String(relayB.port));
    const onB = await scrape(relayB);
    expect(valueOf(onB, 'lightsout_console_sessions_open{gateway="eu-gw-1",kind="sol"}')).toBe(1);
    expect(valueOf(onB, 'lightsout_console_sessions_open{gateway="eu-gw-1",kind="vnc"}')).toBe(0);
    expect(valueOf(onB, 'lightsout_tenant_console_sessions_open{gateway="eu-gw-1",tenant="demo"}')).toBe(1);
    expect(await seriesOf(relayA, 'lightsout_console_sessions_open{gateway="manager-1",kind="sol"}')).toBe(0);

    const leg = await agent!.until(() => agent!.legs.find((candidate) => candidate.sessionId === live.session.sessionId), 'the agent leg');
    // Whatever the client sent so far (its resume) has reached the agent: measure from here.
    await agent!.until(() => leg.socket.readyState === leg.socket.OPEN, 'the leg open');
    const before = { up: (await seriesOf(relayB, 'lightsout_stream_bytes_total{gateway="eu-gw-1",direction="to_agent"}'))!, down: (await seriesOf(relayB, 'lightsout_stream_bytes_total{gateway="eu-gw-1",direction="to_client"}'))! };
    live.client.send(Buffer.from('whoami\n'));
    await agent!.until(() => leg.typed.includes('whoami\n'), 'the typing at the agent');
    const received = new Promise<void>((resolve) => live.client.on('message', (data, binary) => binary && (data as Buffer).length === 1000 && resolve()));
    leg.socket.send(Buffer.alloc(1000, 0x41));
    await received;
    expect(await seriesOf(relayB, 'lightsout_stream_bytes_total{gateway="eu-gw-1",direction="to_agent"}')).toBe(before.up + 7);
    expect(await seriesOf(relayB, 'lightsout_stream_bytes_total{gateway="eu-gw-1",direction="to_client"}')).toBe(before.down + 1000);

    live.client.close(1000);
    await waitFor('the session to close on B', async () => (await seriesOf(relayB, 'lightsout_console_sessions_open{gateway="eu-gw-1",kind="sol"}')) === 0);
    expect(await seriesOf(relayB, 'lightsout_tenant_console_sessions_open{gateway="eu-gw-1",tenant="demo"}')).toBeUndefined();
  });

  it('upload bytes are counted on the replica that received the body', async () => {
    const body = Buffer.alloc(5000, 7);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const tus = { 'tus-resumable': '1.0.0', authorization: `Bearer ${admin}` };
    const created = await fetch(`${relayB.url}/v1/media/uploads`, {
      method: 'POST',
      headers: { ...tus, 'upload-length': String(body.length), 'upload-metadata': `filename ${Buffer.from('m.iso').toString('base64')},sha256 ${Buffer.from(sha256).toString('base64')}` },
    });
    expect(created.status).toBe(201);
    const patched = await fetch(new URL(created.headers.get('location')!, relayB.url), { method: 'PATCH', headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body });
    expect(patched.status).toBe(204);
    expect(await seriesOf(relayB, 'lightsout_upload_bytes_total{gateway="eu-gw-1"}')).toBe(5000);
    expect(await seriesOf(relayA, 'lightsout_upload_bytes_total{gateway="manager-1"}')).toBe(0);
  });

  it('servers go offline on every replica when their agent leaves', async () => {
    await agent!.stop();
    agent = undefined;
    await waitFor('B to drop the agent', async () => (await seriesOf(relayB, 'lightsout_agents_connected{gateway="eu-gw-1"}')) === 0);
    await waitFor('A to count demo\'s servers offline', async () => (await seriesOf(relayA, 'lightsout_tenant_servers{tenant="demo",agent_state="offline"}')) === 2);
    expect(await seriesOf(relayB, 'lightsout_tenant_servers{tenant="bravo",agent_state="offline"}')).toBe(1);
    expect(await seriesOf(relayB, 'lightsout_tenant_servers{tenant="demo",agent_state="online"}')).toBeUndefined();
  });
});
