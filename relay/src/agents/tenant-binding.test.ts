import type { ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestControlClient, agentConnectToken, enrollTestAgent, isRefusal, loginWithDeviceFlow, startRelay } from '../testing/index.js';

/**
 * An agent registers servers only into the tenants its join token names: a
 * server naming another tenant is refused (FORBIDDEN) and audited, the rest
 * of the inventory is applied.
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

async function connectedAgent(tenants: string[] | undefined): Promise<{ agentId: string; client: TestControlClient }> {
  const created = await joinToken({ region: 'eu', datacenter: 'fra1', ...(tenants === undefined ? {} : { tenants }) });
  expect(created.status).toBe(201);
  if (tenants !== undefined) expect(created.body['tenants']).toEqual(tenants);
  const identity = await enrollTestAgent(relay.url, created.body['token'] as string);
  const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
  if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
  open.push(client);
  await client.next('welcome');
  return { agentId: identity.agentId, client };
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

  it('refuses a join token naming a tenant that does not exist', async () => {
    const refused = await joinToken({ region: 'eu', datacenter: 'fra1', tenants: ['nobody'] });
    expect(refused).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });
});
