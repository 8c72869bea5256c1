import type { RequestMessage, SelEntry, ServerRegistration } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnsweringAgent, type RunningRelay, type TestControlClient, createScopeIdentities, startAnsweringAgent, startRelay } from '../testing/index.js';

/**
 * GET /v1/fleet/events through a real relay, with a control client answering
 * as an agent whose BMCs hold event logs: the critical entries of the
 * caller's own tenant only, read through the agent, dropped when the log is
 * cleared.
 */
const PASSWORD = 'fleet-test-password-1';
let relay: RunningRelay;
let operatorToken: string;
let viewerToken: string;
let bravoToken: string;
let agent: TestControlClient;
let running: AnsweringAgent | undefined;
const reads: string[] = [];

const logs = new Map<string, SelEntry[]>([
  ['fl-01', [
    { id: 1, time: '2026-01-02T03:04:05Z', sensor: 'PSU2', event: 'Power Supply AC lost', direction: 'asserted', raw: '' },
    { id: 2, time: '2026-01-02T04:00:00Z', sensor: 'CPU Temp', event: 'Upper Non-critical going high', direction: 'asserted', raw: '' },
  ]],
  ['fl-02', [{ id: 1, time: '2026-01-02T05:00:00Z', sensor: 'Power Unit', event: 'Host power off (forced)', direction: 'asserted', raw: '' }]],
  ['bravo-fl', [{ id: 1, time: '2026-01-02T06:00:00Z', sensor: 'Memory', event: 'Uncorrectable ECC (bravo secret)', direction: 'asserted', raw: '' }]],
]);

function answer(request: RequestMessage): void {
  const serverId = request.params['serverId'] as string;
  const reply = (result: unknown) => agent.send({ v: 1, type: 'response', id: request.id, ok: true, result });
  switch (request.op) {
    case 'sel.list':
      reads.push(serverId);
      return reply({ entries: logs.get(serverId) ?? [] });
    case 'sel.clear':
      logs.set(serverId, []);
      return reply({});
    case 'power.get':
      return reply({ power: 'on' });
    default:
      agent.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNSUPPORTED', message: request.op } });
  }
}

const server = (id: string, tenant: string, capabilities: ServerRegistration['capabilities'] = ['power', 'sel']): ServerRegistration => ({ id, name: `${id}.example`, tenant, rack: 'r1', labels: {}, endpoints: { ipmi: '127.0.0.1:623' }, capabilities });

async function rest(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${relay.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

beforeAll(async () => {
  relay = await startRelay();
  const identities = await createScopeIdentities(relay, 'fleet', PASSWORD);
  const adminToken = identities.adminToken;
  ({ operatorToken, viewerToken, bravoToken } = identities);
  running = await startAnsweringAgent(relay.url, adminToken, 'agent-fleet', [server('fl-01', 'demo'), server('fl-02', 'demo'), server('fl-03', 'demo', ['power']), server('bravo-fl', 'bravo')], answer);
  agent = running.agent;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await relay?.close();
});

describe('GET /v1/fleet/events', () => {
  it('lists the critical entries of the caller tenant\'s logs, read through the agent, and none of another tenant\'s', async () => {
    const demo = await rest(operatorToken, 'GET', '/v1/fleet/events');
    expect(demo.status).toBe(200);
    expect(demo.body).toMatchObject({
      events: [{ serverId: 'fl-01', serverName: 'fl-01.example', time: '2026-01-02T03:04:05Z', sensor: 'PSU2', event: 'Power Supply AC lost' }],
      servers: 3, read: 2, failed: 0, unread: 0, noEventLog: 1,
    });
    expect(reads.sort()).toEqual(['fl-01', 'fl-02']);
    expect(JSON.stringify(demo.body)).not.toContain('bravo');

    const bravo = await rest(bravoToken, 'GET', '/v1/fleet/events');
    expect(bravo.status).toBe(200);
    expect(bravo.body).toMatchObject({ events: [{ serverId: 'bravo-fl', event: 'Uncorrectable ECC (bravo secret)' }], servers: 1, read: 1 });
    expect(JSON.stringify(bravo.body)).not.toContain('fl-01');
    // the demo tenant's answer, read again within the minute, still holds nothing of bravo's
    expect(JSON.stringify((await rest(operatorToken, 'GET', '/v1/fleet/events')).body)).not.toContain('bravo');
  });

  it('answers a viewer as it answers a server\'s own event log, and refuses without a token', async () => {
    expect((await rest(viewerToken, 'GET', '/v1/fleet/events')).body).toMatchObject({ events: [{ serverId: 'fl-01' }] });
    const anonymous = await rest(undefined, 'GET', '/v1/fleet/events');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ code: expect.any(String) });
  });

  it('drops a cleared log\'s events at once, not a minute later', async () => {
    expect((await rest(operatorToken, 'DELETE', '/v1/servers/fl-01/sel')).status).toBe(204);
    const after = await rest(operatorToken, 'GET', '/v1/fleet/events');
    expect(after.body).toMatchObject({ events: [], read: 2 });
  });
});
