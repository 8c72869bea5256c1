import { type BulkEventMessage, type BulkJobView, type RequestMessage, type ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApiToken } from '../access/api-tokens.js';
import { type RunningRelay, TestControlClient, agentConnectToken, createJoinTokenAs, enrollTestAgent, isRefusal, loginWithPassword, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * POST /v1/bulk through a real relay, with agents that answer like BMCs
 * (a cycle is off for a while, then on): scope (tenant, grants, selector),
 * dry run, step-up over the threshold, per-server results on GET and the
 * events feed, and the bound on operations in flight per agent.
 */
const PER_AGENT = 3;
const STEP_UP_ABOVE = 5;
const PASSWORD = 'bulk-test-password-1';
let relay: RunningRelay;
let adminToken: string;
let operatorToken: string;
const agents: SimulatedAgent[] = [];

/**
 * An agent whose BMCs power-cycle through an off phase that lasts until it
 * has been read once (so a loaded machine cannot make the relay miss it);
 * it counts the requests it holds at once.
 */
class SimulatedAgent {
  readonly power = new Map<string, 'on' | 'off'>();
  private readonly cycling = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  readonly failing = new Set<string>();
  readonly ops: string[] = [];

  /** `watches`: it answers power.await as the agent does (reads until the target is seen); otherwise it is an older agent that answers BMC_UNSUPPORTED. */
  constructor(readonly client: TestControlClient, private readonly watches = false) {
    client.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'request') void this.answer(message as RequestMessage);
    });
  }

  private async answer(request: RequestMessage): Promise<void> {
    if (request.op === 'power.await' && !this.watches) {
      // An older agent's dispatcher answers an op it does not know at once, without touching a BMC.
      this.ops.push(`${request.op} ${String(request.params['serverId'])}`);
      this.client.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNSUPPORTED', message: `this agent does not implement the operation ${request.op}` } });
      return;
    }
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const serverId = request.params['serverId'] as string;
    this.ops.push(`${request.op} ${serverId}`);
    // A BMC round trip: long enough that a job without a bound would pile requests up here.
    await new Promise((resolve) => setTimeout(resolve, 15));
    this.inFlight -= 1;
    if (this.failing.has(serverId)) {
      this.client.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNREACHABLE', message: `no answer from the BMC of ${serverId}` } });
      return;
    }
    const current = this.power.get(serverId) ?? 'on';
    if (request.op === 'power.set') {
      const action = request.params['action'] as string;
      if (action === 'cycle' || action === 'reset') {
        this.power.set(serverId, 'off');
        this.cycling.add(serverId);
      } else this.power.set(serverId, action === 'on' ? 'on' : 'off');
      this.client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { power: current } });
    } else if (request.op === 'power.get') {
      this.client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { power: current } });
      // the off phase was seen: the host comes back
      if (this.cycling.delete(serverId)) this.power.set(serverId, 'on');
    } else if (request.op === 'power.await' && this.watches) {
      // Reads at the agent until the target is seen, an off first when asked (the cycle's off phase ends once read).
      let needsOff = request.params['needsOff'] === true;
      let reads = 0;
      let power = current;
      for (; reads < 10; ) {
        power = this.power.get(serverId) ?? 'on';
        reads += 1;
        // each read reported as the agent's poller does, before the answer
        this.client.send({ v: 1, type: 'state', serverId, power, reachable: true });
        if (this.cycling.delete(serverId)) this.power.set(serverId, 'on');
        if (power === 'off') needsOff = false;
        if (power === request.params['target'] && !needsOff) break;
      }
      this.client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { power, confirmed: power === request.params['target'] && !needsOff, reads } });
    } else if (request.op === 'sensors.list') {
      this.client.send({ v: 1, type: 'response', id: request.id, ok: true, result: { sensors: [{ name: 'CPU Temp', type: 'temperature', value: 40, unit: 'C', status: 'ok' }] } });
    } else {
      this.client.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNSUPPORTED', message: request.op } });
    }
  }
}

function server(id: string, tenant: string, rack: string, labels: Record<string, string> = {}): ServerRegistration {
  return { id, name: `${id}.example`, tenant, rack, labels, endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sensors'] };
}

async function connectAgent(datacenter: string, servers: ServerRegistration[], watches = false): Promise<SimulatedAgent> {
  const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter });
  const identity = await enrollTestAgent(relay.url, token, `agent-${datacenter}`);
  const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
  if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
  await client.next('welcome');
  client.send({ v: 1, type: 'inventory', servers });
  expect((await client.next('inventory-ack')).accepted).toHaveLength(servers.length);
  const agent = new SimulatedAgent(client, watches);
  agents.push(agent);
  return agent;
}

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${relay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: response.headers };
}

async function finished(token: string, jobId: string): Promise<BulkJobView> {
  return waitFor(
    `bulk job ${jobId} to finish`,
    async () => {
      const view = (await api(token, 'GET', `/v1/bulk/${jobId}`)).body as unknown as BulkJobView;
      return view.state === 'finished' ? view : undefined;
    },
    { timeoutMs: 20_000 },
  );
}

const ids = (list: unknown) => (list as Array<{ id: string }>).map((entry) => entry.id);

beforeAll(async () => {
  relay = await startRelay({ config: { bulk: { perAgentConcurrency: PER_AGENT, stepUpAbove: STEP_UP_ABOVE, confirmIntervalsMs: [100] } } });
  adminToken = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operatorToken = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  expect((await api(adminToken, 'POST', '/v1/tenants', { id: 'bravo', name: 'Bravo' })).status).toBe(201);
  expect((await api(adminToken, 'POST', '/v1/users', { username: 'bravo-operator', password: PASSWORD, role: 'operator', tenant: 'bravo' })).status).toBe(201);
  const web = Array.from({ length: 12 }, (_, index) => server(`web-${String(index + 1).padStart(2, '0')}`, 'demo', index < 6 ? 'r1' : 'r2', { role: 'web' }));
  await connectAgent('fra1', [...web, server('db-01', 'demo', 'r1', { role: 'db' })]);
  await connectAgent('ams1', [server('ams-web-01', 'demo', 'r9', { role: 'web' }), server('bravo-web-01', 'bravo', 'r1', { role: 'web' })], true);
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.client.close()));
  await relay.close();
});

describe('POST /v1/bulk', () => {
  it('a dry run lists what the selector names in the caller\'s tenant only, and acts on nothing', async () => {
    const before = agents.map((agent) => agent.ops.length);
    const dry = await api(operatorToken, 'POST', '/v1/bulk', { selector: { labels: { role: 'web' }, datacenter: 'fra1', rack: 'r2' }, operation: { kind: 'power', action: 'cycle' }, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ jobId: null, dryRun: true, total: 6 });
    expect(ids(dry.body['servers'])).toEqual(['web-07', 'web-08', 'web-09', 'web-10', 'web-11', 'web-12']);
    // bravo's web server matches the labels but is another tenant's: never named, even by id
    const all = await api(operatorToken, 'POST', '/v1/bulk', { selector: { labels: { role: 'web' } }, operation: { kind: 'sensors.read' }, dryRun: true });
    expect(ids(all.body['servers'])).not.toContain('bravo-web-01');
    expect(all.body['total']).toBe(13);
    const byId = await api(operatorToken, 'POST', '/v1/bulk', { selector: { ids: ['bravo-web-01', 'db-01'] }, operation: { kind: 'sensors.read' }, dryRun: true });
    expect(ids(byId.body['servers'])).toEqual(['db-01']);
    expect(agents.map((agent) => agent.ops.length)).toEqual(before);
  });

  it('another tenant\'s selector reaches only its own servers, and it cannot read this tenant\'s job', async () => {
    const bravo = (await loginWithPassword(relay.url, 'bravo-operator', PASSWORD)).accessToken;
    const job = await api(bravo, 'POST', '/v1/bulk', { selector: { ids: ['web-01', 'bravo-web-01'] }, operation: { kind: 'sensors.read' } });
    expect(job.status).toBe(202);
    expect(job.body['total']).toBe(1);
    const view = await finished(bravo, job.body['jobId'] as string);
    expect(view.results.map((result) => result.serverId)).toEqual(['bravo-web-01']);
    const ours = await api(operatorToken, 'POST', '/v1/bulk', { selector: { ids: ['db-01'] }, operation: { kind: 'sensors.read' } });
    expect((await api(bravo, 'GET', `/v1/bulk/${ours.body['jobId'] as string}`)).status).toBe(404);
    await finished(operatorToken, ours.body['jobId'] as string);
  });

  it('grants narrow the selector: a user granted rack r1 reaches r1 only', async () => {
    const created = await api(adminToken, 'POST', '/v1/users', { username: 'r1-operator', password: PASSWORD, role: 'operator', tenant: 'demo' });
    expect(created.status).toBe(201);
    expect((await api(adminToken, 'POST', '/v1/grants', { userId: created.body['id'], selector: { kind: 'rack', rack: 'r1' } })).status).toBe(201);
    const narrowed = (await loginWithPassword(relay.url, 'r1-operator', PASSWORD)).accessToken;
    const dry = await api(narrowed, 'POST', '/v1/bulk', { selector: { labels: { role: 'web' } }, operation: { kind: 'power', action: 'on' }, dryRun: true });
    expect(ids(dry.body['servers'])).toEqual(['web-01', 'web-02', 'web-03', 'web-04', 'web-05', 'web-06']);
  });

  it('cycles servers through their agents, ok only once each was seen off and on again, never more than the bound in flight per agent; results on GET and the events feed', async () => {
    const [fra1] = agents;
    fra1!.maxInFlight = 0;
    fra1!.failing.add('web-12');
    const feed = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${operatorToken}`]);
    const messages: BulkEventMessage[] = [];
    feed.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type.startsWith('bulk-')) messages.push(message as BulkEventMessage);
    });
    await new Promise((resolve, reject) => {
      feed.once('open', resolve);
      feed.once('error', reject);
    });
    try {
      const job = await api(operatorToken, 'POST', '/v1/bulk', { selector: { labels: { role: 'web' }, datacenter: 'fra1' }, operation: { kind: 'power', action: 'cycle' } });
      expect(job.status).toBe(202);
      expect(job.body).toMatchObject({ dryRun: false, total: 12 });
      const view = await finished(operatorToken, job.body['jobId'] as string);
      expect(view).toMatchObject({ total: 12, succeeded: 11, failed: 1 });
      expect(view.results.find((result) => result.serverId === 'web-12')).toMatchObject({ ok: false, code: 'BMC_UNREACHABLE' });
      for (const result of view.results.filter((entry) => entry.serverId !== 'web-12')) expect(result).toMatchObject({ ok: true, data: { power: 'on' } });
      // each success was observed: a power.get after the cycle saw the server on again
      expect(fra1!.ops.filter((op) => op === 'power.get web-01').length).toBeGreaterThanOrEqual(2);
      expect(fra1!.maxInFlight).toBeLessThanOrEqual(PER_AGENT);
      expect(fra1!.maxInFlight).toBeGreaterThan(1);
      await waitFor('bulk-finished on the feed', () => messages.some((message) => message.type === 'bulk-finished'));
      expect(messages.filter((message) => message.type === 'bulk-result')).toHaveLength(12);
      expect(messages.at(-1)).toMatchObject({ type: 'bulk-finished', jobId: job.body['jobId'], succeeded: 11, failed: 1 });
      const audit = await relay.app.store.selectFrom('audit').select(['action', 'outcome', 'target']).where('target', '=', `bulk:${job.body['jobId'] as string}`).execute();
      expect(audit.map((row) => `${row.action} ${row.outcome}`)).toEqual(['bulk.start success', 'bulk.finish failure']);
    } finally {
      fra1!.failing.delete('web-12');
      feed.close();
    }
  });

  it('an agent that watches confirms each server in one power.await (the off seen there), and the relay reads nothing itself', async () => {
    const ams1 = agents[1]!;
    ams1.ops.length = 0;
    const job = await api(operatorToken, 'POST', '/v1/bulk', { selector: { datacenter: 'ams1' }, operation: { kind: 'power', action: 'cycle' } });
    expect(job.body).toMatchObject({ total: 1 });
    const view = await finished(operatorToken, job.body['jobId'] as string);
    expect(view.results).toEqual([expect.objectContaining({ serverId: 'ams-web-01', ok: true, data: expect.objectContaining({ power: 'on' }) })]);
    expect(ams1.ops).toEqual(['power.set ams-web-01', 'power.await ams-web-01']);
    expect((await api(operatorToken, 'GET', '/v1/servers/ams-web-01')).body['power']).toBe('on');
  });

  it('queues behind the tenant\'s per-agent fairness slots instead of failing with 429', async () => {
    // Hold all but one of demo's slots on the fra1 agent: the job gets one at a time, and still finishes.
    const agentId = (await api(adminToken, 'GET', '/v1/servers/web-01')).body['agentId'] as string;
    const slots = Array.from({ length: relay.config.limits.bmcOperations.perTenantPerAgent - 1 }, () => relay.app.bmcFairness.admit({ subject: 'someone-else', tenant: 'demo', agentId }));
    try {
      agents[0]!.maxInFlight = 0;
      const job = await api(operatorToken, 'POST', '/v1/bulk', { selector: { rack: 'r1', datacenter: 'fra1' }, operation: { kind: 'sensors.read' } });
      expect(job.status).toBe(202);
      const view = await finished(operatorToken, job.body['jobId'] as string);
      expect(view).toMatchObject({ total: 7, succeeded: 7, failed: 0 });
      expect(view.results[0]).toMatchObject({ data: { sensors: [{ name: 'CPU Temp' }] } });
      expect(agents[0]!.maxInFlight).toBe(1);
    } finally {
      for (const release of slots) release();
    }
  });

  it('a destructive operation on more servers than the threshold needs a person\'s sign-in: an API token is refused, and audited', async () => {
    const { token } = await createApiToken(relay.app.store, { tenant: 'demo', name: 'ci', role: 'operator', ttlSeconds: 3600, createdBy: 'test' });
    const few = await api(token, 'POST', '/v1/bulk', { selector: { rack: 'r1', labels: { role: 'web' } }, operation: { kind: 'power', action: 'off' }, dryRun: true });
    expect(few.body['total']).toBe(6);
    const refused = await api(token, 'POST', '/v1/bulk', { selector: { rack: 'r1', labels: { role: 'web' } }, operation: { kind: 'power', action: 'off' } });
    expect(refused).toMatchObject({ status: 401, body: { code: 'STEP_UP_REQUIRED' } });
    expect(refused.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
    // at the threshold, and for what is not destructive, the token's role decides
    const atThreshold = await api(token, 'POST', '/v1/bulk', { selector: { ids: ['web-01', 'web-02', 'web-03', 'web-04', 'web-05'] }, operation: { kind: 'power', action: 'on' } });
    expect(atThreshold.status).toBe(202);
    const on = await api(token, 'POST', '/v1/bulk', { selector: { labels: { role: 'web' } }, operation: { kind: 'power', action: 'on' } });
    expect(on.status).toBe(202);
    const denied = await relay.app.store.selectFrom('audit').select(['details']).where('action', '=', 'step-up.power.destructive').where('outcome', '=', 'denied').execute();
    expect(denied.some((row) => String(row.details).includes('"servers":6'))).toBe(true);
    await finished(token, atThreshold.body['jobId'] as string);
    await finished(token, on.body['jobId'] as string);
  });

  it('a viewer may dry-run but not act; bad input is a typed 400', async () => {
    const created = await api(adminToken, 'POST', '/v1/users', { username: 'looker', password: PASSWORD, role: 'viewer', tenant: 'demo' });
    expect(created.status).toBe(201);
    const viewer = (await loginWithPassword(relay.url, 'looker', PASSWORD)).accessToken;
    expect((await api(viewer, 'POST', '/v1/bulk', { selector: {}, operation: { kind: 'power', action: 'on' }, dryRun: true })).status).toBe(200);
    expect(await api(viewer, 'POST', '/v1/bulk', { selector: {}, operation: { kind: 'power', action: 'on' } })).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await api(operatorToken, 'POST', '/v1/bulk', { selector: { rack: 'r1' }, operation: { kind: 'power', action: 'explode' } })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });
});
