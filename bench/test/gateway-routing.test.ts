import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { BMCSIM_CREDENTIALS, type Bmcsim, startBmcsim } from '../lib/bmcsim.js';
import { type Stack, startStack } from '../lib/stack.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * Operations through any replica, as deployed: one manager and two gateways
 * (processes) on one real PostgreSQL, an agent (process) connected to the
 * first gateway only, a simulated BMC (process). Power, sensors and SEL made
 * at the manager and at the other gateway reach the agent through the
 * replica holding it; another replica's event feed sees a power change; when
 * the holding gateway is killed with a request out, the request ends with a
 * typed error within its timeout; an agent offline everywhere is
 * AGENT_OFFLINE at once.
 */
const postgres = postgresForThisFile();
const MANAGER = 0;
const HOLDER = 1;
const OTHER = 2;
/** The relays' agent request timeout here: a request must end, one way or the other, within it. */
const REQUEST_TIMEOUT_MS = 8000;

let directory: string;
let bmc: Bmcsim | undefined;
let stack: Stack | undefined;

async function api(index: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const token = await stack!.tokenAt(index);
  const started = performance.now();
  const response = await fetch(`${stack!.relayUrls[index]}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), ms: performance.now() - started };
}

const until = (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => waitFor(what, check, { timeoutMs, intervalMs: 50 });

const agentState = async (index: number) => (await api(index, 'GET', '/v1/servers/sim-01')).body['agent'];

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-routing-'));
  bmc = await startBmcsim(directory, 'routing');
  stack = await startStack([{ id: 'sim-01', ...bmc.endpoints }], {
    relays: 3,
    postgresUrl: postgres().url,
    roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu' }, { role: 'gateway', region: 'eu' }],
    agentRelays: [HOLDER],
    relayAgents: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
    agentEnv: BMCSIM_CREDENTIALS.env,
    agentCredentials: BMCSIM_CREDENTIALS.entries,
  });
}, 180_000);
afterAll(async () => {
  await stack?.close();
  await bmc?.stop();
  rmSync(directory, { recursive: true, force: true });
});

describe('operations through any replica of a regional deployment', () => {
  it('the agent is held by the gateway it connected to, and online as seen from every replica', async () => {
    expect(await stack!.agentHeldBy()).toBe(stack!.relayUrls[HOLDER]);
    for (const index of [MANAGER, HOLDER, OTHER]) expect(await agentState(index)).toBe('online');
  });

  for (const [name, index] of [
    ['the manager', MANAGER],
    ['the other gateway', OTHER],
  ] as const) {
    it(`power status and cycle, sensors and SEL through ${name}`, { timeout: 60_000 }, async () => {
      const status = await api(index, 'POST', '/v1/servers/sim-01/power', { action: 'status' });
      expect(status.status, JSON.stringify(status.body)).toBe(200);
      expect(['on', 'off']).toContain(status.body['power']);
      // A BMC refuses to cycle a host that is off (IPMI §28.3; completion code 0xD5), as it is for a moment during the previous cycle.
      await until(async () => (await api(index, 'POST', '/v1/servers/sim-01/power', { action: 'status' })).body['power'] === 'on', 'the host on again', 30_000);
      const cycle = await api(index, 'POST', '/v1/servers/sim-01/power', { action: 'cycle' });
      expect(cycle.status, JSON.stringify(cycle.body)).toBe(200);
      const sensors = await api(index, 'GET', '/v1/servers/sim-01/sensors');
      expect(sensors.status, JSON.stringify(sensors.body)).toBe(200);
      expect((sensors.body['sensors'] as unknown[]).length).toBeGreaterThan(0);
      const sel = await api(index, 'GET', '/v1/servers/sim-01/sel');
      expect(sel.status, JSON.stringify(sel.body)).toBe(200);
      expect(Array.isArray(sel.body['entries'])).toBe(true);
    });
  }

  it('a console session opened at any replica names the stream URL of the gateway holding the agent', async () => {
    for (const index of [MANAGER, OTHER]) {
      const session = await api(index, 'POST', '/v1/servers/sim-01/sessions', { kind: 'sol', mode: 'view' });
      expect(session.status, JSON.stringify(session.body)).toBe(201);
      expect(session.body['streamUrl']).toMatch(new RegExp(`^${stack!.relayUrls[HOLDER]!.replace(/^http/, 'ws')}/v1/streams/`));
    }
  });

  it('the manager refuses the agent and stream endpoints (agents connect to gateways), however the path is spelt', async () => {
    // The router decodes percent-escapes in the path: each of these reaches an agent or stream route unless refused.
    for (const path of ['/v1/agent/connect', '/v1/%61gent/connect', '/v1/%61%67%65%6Et/connect', '/v1/%73treams/AAAAAAAAAAAAAAAAAAAAAA', '/v1/agent/streams/AAAAAAAAAAAAAAAAAAAAAA?leg=1']) {
      const response = await fetch(`${stack!.relayUrls[MANAGER]}${path}`);
      const body = (await response.json()) as { code: string; message: string };
      expect({ path, status: response.status, code: body.code, manager: body.message.includes('this replica is a manager') }).toEqual({ path, status: 404, code: 'NOT_FOUND', manager: true });
    }
    // What every replica answers is still answered here.
    const route = await fetch(`${stack!.relayUrls[MANAGER]}/v1/streams/AAAAAAAAAAAAAAAAAAAAAA/route`);
    expect(((await route.json()) as { message: string }).message).not.toContain('this replica is a manager');
  });

  it('the event feed on a replica that neither made the change nor holds the agent sees a power change', { timeout: 60_000 }, async () => {
    // The host on again as the BMC says (not the stored state, which may predate the last cycle): an off sent mid-cycle would be undone by the cycle's power-on.
    await until(async () => (await api(MANAGER, 'POST', '/v1/servers/sim-01/power', { action: 'status' })).body['power'] === 'on', 'the host on after the cycle', 30_000);
    const token = await stack!.tokenAt(OTHER);
    const feed = new WebSocket(`${stack!.relayUrls[OTHER].replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
    const messages: Array<{ type: string; server?: { id: string; power: string } }> = [];
    feed.on('message', (data) => messages.push(JSON.parse(data.toString()) as (typeof messages)[number]));
    try {
      await until(async () => messages.some((message) => message.type === 'servers'), 'the feed snapshot');
      const off = await api(MANAGER, 'POST', '/v1/servers/sim-01/power', { action: 'off' });
      expect(off.status, JSON.stringify(off.body)).toBe(200);
      await until(async () => messages.some((message) => message.type === 'server' && message.server?.id === 'sim-01' && message.server.power === 'off'), 'the feed to show the server off');
    } finally {
      feed.close();
    }
  });

  it('kill -9 of the gateway holding the agent with a request out: the request ends with a typed error within its timeout; then the agent is offline everywhere and requests fail at once', { timeout: 90_000 }, async () => {
    // The agent frozen: the request reaches the holder and waits there for an answer that will not come.
    process.kill(stack!.agentPid()!, 'SIGSTOP');
    // Whether the holder got the request before it died or not, the replica forwarding it must end it within its timeout.
    const pending = api(OTHER, 'POST', '/v1/servers/sim-01/power', { action: 'status' });
    await stack!.killRelay(HOLDER);
    const answer = await pending;
    expect(answer.status, JSON.stringify(answer.body)).toBeGreaterThanOrEqual(500);
    expect(['AGENT_OFFLINE', 'AGENT_TIMEOUT']).toContain(answer.body['code']);
    expect(answer.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1000);
    console.log(`request out when its holder was killed: ${answer.body['code']} after ${Math.round(answer.ms)} ms (timeout ${REQUEST_TIMEOUT_MS} ms)`);

    // The agent knows only the dead gateway: offline everywhere once the holder's heartbeat is stale.
    process.kill(stack!.agentPid()!, 'SIGCONT');
    await until(async () => (await agentState(MANAGER)) === 'offline' && (await agentState(OTHER)) === 'offline', 'every replica to see the agent offline');
    for (const index of [MANAGER, OTHER]) {
      const refused = await api(index, 'POST', '/v1/servers/sim-01/power', { action: 'status' });
      expect(refused.status).toBe(503);
      expect(refused.body['code']).toBe('AGENT_OFFLINE');
      expect(refused.ms).toBeLessThan(1000);
    }
  });
});
