import type { RequestMessage, ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnsweringAgent, type RunningRelay, type TestControlClient, createScopeIdentities, startAnsweringAgent, startRelay } from '../testing/index.js';

/**
 * GET /v1/servers/:id/identity through a real relay, with a control client
 * answering as the agent: the identity comes from the server's agent
 * (`identity.get`), any role that reads sensors reads it, and another
 * tenant's user gets 404 without the agent being asked.
 */
const PASSWORD = 'identity-test-password-1';
let relay: RunningRelay;
let viewerToken: string;
let bravoToken: string;
let agent: TestControlClient;
let running: AnsweringAgent | undefined;
const asked: string[] = [];

const IDENTITIES: Record<string, unknown> = {
  'id-01': { source: 'redfish', vendor: 'Dell Inc.', model: 'PowerEdge R650', serialNumber: 'CN7X3', bmcFirmware: '7.00.30.00', biosVersion: '1.9.2' },
  'bravo-id': { source: 'ipmi', vendor: 'Supermicro', manufacturerId: 10876, productId: 2316, bmcFirmware: '1.73' },
};

function answer(request: RequestMessage): void {
  const serverId = request.params['serverId'] as string;
  if (request.op === 'identity.get' && IDENTITIES[serverId] !== undefined) {
    asked.push(serverId);
    agent.send({ v: 1, type: 'response', id: request.id, ok: true, result: IDENTITIES[serverId] });
    return;
  }
  agent.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNSUPPORTED', message: request.op } });
}

const server = (id: string, tenant: string): ServerRegistration => ({ id, name: `${id}.example`, tenant, rack: 'r1', labels: {}, endpoints: { redfish: 'https://127.0.0.1' }, capabilities: ['power', 'sensors'] });

async function get(token: string | undefined, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

beforeAll(async () => {
  relay = await startRelay();
  const identities = await createScopeIdentities(relay, 'identity', PASSWORD);
  ({ viewerToken, bravoToken } = identities);
  running = await startAnsweringAgent(relay.url, identities.adminToken, 'agent-identity', [server('id-01', 'demo'), server('bravo-id', 'bravo')], answer);
  agent = running.agent;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await relay?.close();
});

describe('GET /v1/servers/:id/identity', () => {
  it('answers a viewer with what the agent read from the BMC', async () => {
    const response = await get(viewerToken, '/v1/servers/id-01/identity');
    expect(response).toEqual({ status: 200, body: IDENTITIES['id-01'] });
  });

  it("is 404 for another tenant's server, and that tenant's agent is never asked", async () => {
    asked.length = 0;
    const response = await get(bravoToken, '/v1/servers/id-01/identity');
    expect(response.status).toBe(404);
    expect(response.body['code']).toBe('NOT_FOUND');
    expect(JSON.stringify(response.body)).not.toContain('PowerEdge');
    expect(asked).toEqual([]);
    // bravo's own server answers bravo
    expect(await get(bravoToken, '/v1/servers/bravo-id/identity')).toEqual({ status: 200, body: IDENTITIES['bravo-id'] });
    expect(asked).toEqual(['bravo-id']);
  });

  it('refuses without a token', async () => {
    expect((await get(undefined, '/v1/servers/id-01/identity')).status).toBe(401);
  });
});
