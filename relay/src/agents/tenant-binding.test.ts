import type { ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestControlClient, agentConnectToken, enrollTestAgent, isRefusal, loginWithDeviceFlow, startRelay } from '../testing/index.js';

/**
 * An agent registers servers only into the tenants its join token names: a
 * server naming another tenant is refused (FORBIDDEN) and audited, the rest
 * of the inventory is applied. A join token must name at least one tenant;
 * an agent bound to none (enrolled before that rule, with no servers yet)
 * registers nowhere until a provider admin names its tenants.
 */
let relay: RunningRelay;
let adminToken: string;
const open: TestControlClient[] = [];

beforeAll(async () => {
  relay = await startRelay();
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  const created = await fetch(`${relay.url}/v1/tenants`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ id: 'bravo', name: 'Bravo' }) });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await Promise.all(open.map((client) => client.close()));
  await relay.close();
});

function server(id: string, tenant: string): ServerRegistration {
  return { id, name: `${id}.example`, tenant, rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power'] };
}

async function joinToken(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}/v1/agents/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function connect(identity: Awaited<ReturnType<typeof enrollTestAgent>>): Promise<TestControlClient> {
  const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
  if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
  open.push(client);
  await client.next('welcome');
  return client;
}

async function connectedAgent(tenants: string[]): Promise<{ agentId: string; client: TestControlClient; identity: Awaited<ReturnType<typeof enrollTestAgent>> }> {
  const created = await joinToken({ region: 'eu', datacenter: 'fra1', tenants });
  expect(created.status).toBe(201);
  expect(created.body['tenants']).toEqual(tenants);
  const identity = await enrollTestAgent(relay.url, created.body['token'] as string);
  return { agentId: identity.agentId, client: await connect(identity), identity };
}

async function setTenants(agentId: string, tenants: unknown, token = adminToken): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}/v1/agents/${agentId}/tenants`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ tenants }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('agent tenant binding', () => {
  it('refuses servers naming a tenant the join token does not name, and audits the refusal', async () => {
    const { agentId, client } = await connectedAgent(['demo']);
    client.send({ v: 1, type: 'inventory', servers: [server('bound-01', 'demo'), server('stray-01', 'bravo')] });
    const ack = await client.next('inventory-ack');
    expect(ack.accepted).toEqual(['bound-01']);
    expect(ack.rejected).toEqual([{ serverId: 'stray-01', error: expect.objectContaining({ code: 'FORBIDDEN' }) }]);
    const stray = await relay.app.store.selectFrom('servers').select('id').where('id', '=', 'stray-01').executeTakeFirst();
    expect(stray).toBeUndefined();
    const audited = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'inventory.refused').where('target', '=', 'server:stray-01').execute();
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ subject: agentId, tenant_id: 'bravo', outcome: 'denied' });
  });

  it('lists the tenants an agent is bound to', async () => {
    const { agentId } = await connectedAgent(['demo', 'bravo']);
    const list = (await (await fetch(`${relay.url}/v1/agents`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as { agents: Array<{ id: string; tenants?: string[] | null }> };
    expect(list.agents.find((agent) => agent.id === agentId)?.tenants).toEqual(['demo', 'bravo']);
  });

  it('refuses a join token that names no tenant (it would let its agent register servers anywhere)', async () => {
    expect(await joinToken({ region: 'eu', datacenter: 'fra1' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await joinToken({ region: 'eu', datacenter: 'fra1', tenants: [] })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });

  it('an agent bound to no tenant registers nowhere until a provider admin names its tenants', async () => {
    const { agentId, identity } = await connectedAgent(['demo']);
    // What an enrollment older than the rule left behind (the migration binds agents with servers to their tenants).
    await relay.app.store.updateTable('agents').set({ tenants: null }).where('id', '=', agentId).execute();
    const unbound = await connect(identity);
    unbound.send({ v: 1, type: 'inventory', servers: [server('unbound-01', 'demo'), server('unbound-02', 'bravo')] });
    const refused = await unbound.next('inventory-ack');
    expect(refused.accepted).toEqual([]);
    expect(refused.rejected.map((entry) => [entry.serverId, entry.error.code])).toEqual([['unbound-01', 'FORBIDDEN'], ['unbound-02', 'FORBIDDEN']]);

    expect(await setTenants(agentId, ['demo', 'bravo'])).toMatchObject({ status: 200, body: { id: agentId, tenants: ['demo', 'bravo'] } });
    const widened = await connect(identity);
    widened.send({ v: 1, type: 'inventory', servers: [server('unbound-01', 'demo'), server('unbound-02', 'bravo')] });
    expect((await widened.next('inventory-ack')).accepted).toEqual(['unbound-01', 'unbound-02']);
    const audited = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'agent.tenants').where('target', '=', `agent:${agentId}`).execute();
    expect(audited).toHaveLength(1);
    expect(JSON.parse(audited[0]!.details ?? '{}')).toMatchObject({ tenants: ['demo', 'bravo'], before: null });

    // Narrowing takes the servers of the tenant no longer named away at once, not at the agent's next inventory.
    expect(await setTenants(agentId, ['demo'])).toMatchObject({ status: 200, body: { tenants: ['demo'] } });
    const left = await relay.app.store.selectFrom('servers').select('id').where('agent_id', '=', agentId).orderBy('id').execute();
    expect(left.map((row) => row.id)).toEqual(['unbound-01']);
  });

  it('refuses to bind an agent to no tenant or an unknown one', async () => {
    const { agentId } = await connectedAgent(['demo']);
    expect(await setTenants(agentId, [])).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await setTenants(agentId, ['nobody'])).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await setTenants('no-such-agent', ['demo'])).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('refuses a join token naming a tenant that does not exist', async () => {
    const refused = await joinToken({ region: 'eu', datacenter: 'fra1', tenants: ['nobody'] });
    expect(refused).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });
});
