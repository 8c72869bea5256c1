import type { ServerDetail } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * A server's detail says which agent and which gateway carry it. In the
 * single process the gateway is the relay itself, while the agent is
 * connected; the agent's name and version are for provider staff only
 * (as in the agents list), its id and presence for whoever sees the server.
 */
let relay: RunningRelay;
let agent: ScriptedAgent | undefined;
let admin: string;
let operator: string;

async function detail(serverId: string, token: string): Promise<{ status: number; body: ServerDetail }> {
  const response = await fetch(`${relay.url}/v1/servers/${serverId}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as ServerDetail };
}

beforeAll(async () => {
  relay = await startRelay({ config: { region: 'eu-central' } });
  admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operator = (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
  agent = await ScriptedAgent.start(relay.url, admin, [{ id: 'conn-1', name: 'conn-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power'] }]);
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
});

describe('GET /v1/servers/{id}: the connection that carries the server (single process)', () => {
  it('names the agent (name and version for a provider admin) and this relay as its gateway', async () => {
    const { status, body } = await detail('conn-1', admin);
    expect(status).toBe(200);
    expect(body.connection).toEqual({
      agent: { id: agent!.identity.agentId, name: expect.any(String), version: 'scripted', state: 'online', lastSeenAt: expect.any(String), region: 'eu', datacenter: 'fra1' },
      gateway: { url: relay.url, region: 'eu-central' },
    });
    expect(Date.parse(body.connection!.agent.lastSeenAt!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a tenant user sees the agent\'s id, presence and place and the gateway\'s URL, not the agent\'s name or version', async () => {
    const { status, body } = await detail('conn-1', operator);
    expect(status).toBe(200);
    expect(body.connection).toEqual({
      agent: { id: agent!.identity.agentId, state: 'online', lastSeenAt: expect.any(String), region: 'eu', datacenter: 'fra1' },
      gateway: { url: relay.url, region: 'eu-central' },
    });
  });

  it('the list does not carry it (one detail, not a query per server)', async () => {
    const response = await fetch(`${relay.url}/v1/servers`, { headers: { authorization: `Bearer ${admin}` } });
    const { servers } = (await response.json()) as { servers: Array<Record<string, unknown>> };
    expect(servers.find((server) => server['id'] === 'conn-1')).not.toHaveProperty('connection');
  });

  it('with the agent gone: offline, no gateway, the last heartbeat kept', async () => {
    const before = (await detail('conn-1', admin)).body.connection!.agent.lastSeenAt;
    await agent!.stop();
    agent = undefined;
    const after = await waitFor('the agent offline in the detail', async () => {
      const { body } = await detail('conn-1', admin);
      return body.connection?.agent.state === 'offline' ? body.connection : undefined;
    });
    expect(after).not.toHaveProperty('gateway');
    expect(after.agent.lastSeenAt).not.toBeNull();
    expect(Date.parse(after.agent.lastSeenAt!)).toBeGreaterThanOrEqual(Date.parse(before!));
  });
});
