import { ControlCloseCode } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestControlClient, agentConnectToken, createJoinTokenAs, enrollTestAgent, isRefusal, loginWithDeviceFlow, startRelay } from '../testing/index.js';

const INTERVAL = 150;
let relay: RunningRelay;
let operatorToken: string;
let adminToken: string;

beforeAll(async () => {
  relay = await startRelay({ config: { agents: { heartbeatIntervalMs: INTERVAL, missedHeartbeats: 3 } } });
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  operatorToken = (await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password)).accessToken;
});
afterAll(async () => {
  await relay.close();
});

async function connectWithServer(serverId: string): Promise<TestControlClient> {
  const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter: 'fra1' });
  const identity = await enrollTestAgent(relay.url, token);
  const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
  if (isRefusal(client)) throw new Error(client.body.code);
  expect((await client.next('welcome')).heartbeatIntervalMs).toBe(INTERVAL);
  client.send({ v: 1, type: 'inventory', servers: [{ id: serverId, name: serverId, tenant: 'demo', rack: 'r1', endpoints: {}, capabilities: [] }] });
  await client.next('inventory-ack');
  return client;
}

async function agentStatus(serverId: string): Promise<unknown> {
  const response = await fetch(`${relay.url}/v1/servers/${serverId}`, { headers: { authorization: `Bearer ${operatorToken}` } });
  return ((await response.json()) as { agent: unknown }).agent;
}

describe('heartbeat supervision', () => {
  it('an agent that stops heartbeating is closed with HEARTBEAT_TIMEOUT after 3 intervals and shows offline', async () => {
    const silent = await connectWithServer('quiet-01');
    const started = Date.now();
    expect(await agentStatus('quiet-01')).toBe('online');
    const { code } = await silent.closed;
    const elapsed = Date.now() - started;
    expect(code).toBe(ControlCloseCode.HEARTBEAT_TIMEOUT);
    expect(elapsed).toBeGreaterThanOrEqual(3 * INTERVAL - 50);
    expect(elapsed).toBeLessThan(3 * INTERVAL + 2000);
    expect(await agentStatus('quiet-01')).toBe('offline');
  });

  it('an agent that keeps heartbeating stays online past the window', async () => {
    const lively = await connectWithServer('busy-01');
    // Heartbeat on every ack, for well over 3 intervals: the ack is the event we wait on.
    const until = Date.now() + 6 * INTERVAL;
    let seq = 0;
    while (Date.now() < until && seq < 1000) {
      await new Promise<void>((resolve) => setTimeout(resolve, INTERVAL / 2)); // the agent's own heartbeat pacing
      lively.send({ v: 1, type: 'heartbeat', seq });
      expect((await lively.next('heartbeat-ack')).seq).toBe(seq);
      seq += 1;
    }
    expect(await agentStatus('busy-01')).toBe('online');
    await lively.close();
  });
});
