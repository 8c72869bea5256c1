import type { ServerDetail } from '@lightsout/shared';
import { freeTcpPort } from '@lightsout/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, postgresForThisFile, sharedAtRestKeyFile, startRelay } from '../testing/index.js';
import { waitFor } from '@lightsout/lab/wait';
import { ScriptedAgent } from '../testing/scripted-agent.js';

/**
 * A regional deployment on one PostgreSQL — a manager and two gateways of
 * one region, in this process — asked at the manager which agent and which
 * gateway carry a server: the gateway named is the one holding the agent's
 * control connection, and the next answer after the agent moves to the
 * other gateway names that one.
 */
const postgres = postgresForThisFile();
let manager: RunningRelay;
let gatewayA: RunningRelay;
let gatewayB: RunningRelay;
let agent: ScriptedAgent | undefined;
let admin: string;
let operator: string;

const SERVERS = [{ id: 'gw-conn-1', name: 'gw-conn-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power' as const] }];

async function connection(token: string): Promise<ServerDetail['connection']> {
  const response = await fetch(`${manager.url}/v1/servers/gw-conn-1`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as ServerDetail).connection;
}

beforeAll(async () => {
  const postgresUrl = await postgres().createDatabase('server_connection');
  const port = await freeTcpPort();
  const shared = { store: { driver: 'postgres', postgresUrl }, identity: { totpKeyFile: sharedAtRestKeyFile() }, deploymentUrl: `http://127.0.0.1:${port}` };
  manager = await startRelay({ port, config: { ...shared, role: 'manager' } });
  gatewayA = await startRelay({ config: { ...shared, role: 'gateway', region: 'eu-central' } });
  gatewayB = await startRelay({ config: { ...shared, role: 'gateway', region: 'eu-central' } });
  admin = (await loginWithPassword(manager.url, 'admin', manager.credentials.admin.password)).accessToken;
  operator = (await loginWithPassword(manager.url, 'operator', manager.credentials.operator.password)).accessToken;
}, 120_000);
afterAll(async () => {
  await agent?.stop();
  await Promise.all([gatewayA?.close(), gatewayB?.close()]);
  await manager?.close();
});

describe('the gateway carrying a server, asked at the manager', () => {
  it('names the gateway holding the agent; its replica id for a provider admin only', async () => {
    agent = await ScriptedAgent.start(gatewayA.url, admin, SERVERS);
    const held = await waitFor('the manager to see the agent on A', async () => {
      const now = await connection(admin);
      return now?.gateway === undefined ? undefined : now;
    });
    expect(held).toEqual({
      agent: { id: agent.identity.agentId, name: expect.any(String), version: 'scripted', state: 'online', lastSeenAt: expect.any(String), region: 'eu', datacenter: 'fra1' },
      gateway: { replicaId: gatewayA.app.cluster.replicas!.id, url: gatewayA.url, region: 'eu-central' },
    });
    expect(await connection(operator)).toEqual({
      agent: { id: agent.identity.agentId, state: 'online', lastSeenAt: expect.any(String), region: 'eu', datacenter: 'fra1' },
      gateway: { url: gatewayA.url, region: 'eu-central' },
    });
  });

  it('after the agent moves to the other gateway, names that one', async () => {
    const { identity } = agent!;
    await agent!.stop();
    agent = undefined;
    const gone = await waitFor('the manager to see the agent leave A', async () => {
      const now = await connection(admin);
      return now?.agent.state === 'offline' ? now : undefined;
    });
    expect(gone).not.toHaveProperty('gateway');
    agent = await ScriptedAgent.connect(gatewayB.url, identity, SERVERS);
    const moved = await waitFor('the manager to see the agent on B', async () => {
      const now = await connection(admin);
      return now?.gateway?.url === gatewayB.url ? now : undefined;
    });
    expect(moved?.gateway).toEqual({ replicaId: gatewayB.app.cluster.replicas!.id, url: gatewayB.url, region: 'eu-central' });
    expect(moved?.agent.state).toBe('online');
    // Every replica answers the same: the gateway that does not hold the agent names the one that does.
    const atA = await fetch(`${gatewayA.url}/v1/servers/gw-conn-1`, { headers: { authorization: `Bearer ${operator}` } });
    expect(((await atA.json()) as ServerDetail).connection?.gateway).toEqual({ url: gatewayB.url, region: 'eu-central' });
  });
});
