import { inventoryParts, type InventoryAckMessage, type ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestControlClient, agentConnectToken, createJoinTokenAs, enrollTestAgent, isRefusal, loginWithDeviceFlow, startRelay } from '../testing/index.js';

/** One agent with 10,000 servers: the inventory, its acknowledgement and the heartbeats around them. */
let relay: RunningRelay;
let adminToken: string;
beforeAll(async () => {
  relay = await startRelay({});
  adminToken = (await loginWithDeviceFlow(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
});
afterAll(async () => relay.close());

async function connect(datacenter: string): Promise<TestControlClient> {
  const { token } = await createJoinTokenAs(relay.url, adminToken, { region: 'eu', datacenter });
  const identity = await enrollTestAgent(relay.url, token, `scale-${datacenter}`);
  const client = await TestControlClient.connect(relay.url, await agentConnectToken(identity));
  if (isRefusal(client)) throw new Error(`refused: ${client.body.code}`);
  await client.next('welcome');
  return client;
}

function fleet(prefix: string, tenant: string): ServerRegistration[] {
  return Array.from({ length: 10_000 }, (_, index) => ({ id: `${prefix}-${index}`, name: `${prefix}-${index}`, tenant, rack: 'r1', endpoints: { ipmi: `10.${index >> 8}.${index & 255}.1:623` }, capabilities: ['power', 'sol'] }));
}

describe('an agent with 10,000 servers', { timeout: 120_000 }, () => {
  it('has its heartbeats answered while its inventory is being applied, not after', async () => {
    const client = await connect('hb1');
    for (const part of inventoryParts(fleet('hb', 'demo'), 1 << 20)) client.send(part);
    client.send({ v: 1, type: 'heartbeat', seq: 1 });
    // The ack of a heartbeat sent after the inventory comes first: a long apply must not look like a dead agent.
    expect(await client.next('heartbeat-ack', 60_000)).toMatchObject({ seq: 1 });
    expect((await client.next('inventory-ack', 60_000)).accepted).toHaveLength(10_000);
    await client.close();
  });

  it('acknowledges 10,000 refusals in frames an agent accepts (each within the control frame limit)', async () => {
    const client = await connect('rej1');
    // A tenant the agent is not bound to: each refusal carries a message and a hint.
    for (const part of inventoryParts(fleet('rej', 'no-such-tenant'), 1 << 20)) client.send(part);
    const acks: InventoryAckMessage[] = [];
    let rejected = 0;
    while (rejected < 10_000) {
      const ack = await client.next('inventory-ack', 60_000);
      acks.push(ack);
      rejected += ack.rejected.length;
    }
    expect(acks.length).toBeGreaterThan(1);
    expect(acks.flatMap((ack) => ack.rejected).every((entry) => entry.error.code === 'FORBIDDEN')).toBe(true);
    await client.close();
  });
});
