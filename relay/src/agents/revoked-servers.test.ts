import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestControlClient, agentConnectToken, createJoinTokenAs, enrollTestAgent, isRefusal, loginWithDeviceFlow, startRelay } from '../testing/index.js';

/** A revoked agent's servers stay listed until a provider admin deletes them. */
let relay: RunningRelay;
let adminToken: string;
let operatorToken: string;

beforeAll(async () => {
  relay = await startRelay();
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operatorToken = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
});
afterAll(async () => {
  await relay.close();
});

async function call(method: string, path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe("deleting a revoked agent's servers", () => {
  it('is refused while the agent is active, allowed to a provider admin once it is revoked, and audited', async () => {
    const identity = await enrollTestAgent(relay.url, (await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' })).token);
    const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
    if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
    await client.next('welcome');
    client.send({ v: 1, type: 'inventory', servers: [{ id: 'orphan-01', name: 'orphan-01', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power'] }] });
    expect((await client.next('inventory-ack')).accepted).toEqual(['orphan-01']);

    expect(await call('DELETE', `/v1/agents/${identity.agentId}/servers`, adminToken)).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    expect((await call('POST', `/v1/agents/${identity.agentId}/revoke`, adminToken)).status).toBe(200);
    await client.closed;
    const orphan = await call('GET', '/v1/servers/orphan-01', operatorToken);
    expect(orphan.status).toBe(200);
    // Carried by nobody: the revoked agent is offline and no gateway holds it.
    expect(orphan.body['connection']).toEqual({ agent: expect.objectContaining({ id: identity.agentId, state: 'offline' }) });

    expect((await call('DELETE', `/v1/agents/${identity.agentId}/servers`, operatorToken)).status).toBe(403);
    expect(await call('DELETE', `/v1/agents/${identity.agentId}/servers`, adminToken)).toEqual({ status: 200, body: { removed: ['orphan-01'] } });
    expect((await call('GET', '/v1/servers/orphan-01', operatorToken)).status).toBe(404);
    expect(await call('DELETE', '/v1/agents/no-such-agent/servers', adminToken)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const audited = await relay.app.store.selectFrom('audit').selectAll().where('action', '=', 'agent.servers.delete').execute();
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ target: `agent:${identity.agentId}`, outcome: 'success' });
  });
});
