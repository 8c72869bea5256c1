import { loginWithPassword } from '@lightsout/relay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BMCSIM_PASSWORD, BMCSIM_USER, type BmcsimFleet, startBmcsimFleet } from '../lib/bmcsim-fleet.js';
import { STACK_PASSWORD, type Stack, startStack } from '../lib/stack.js';

/**
 * Bulk jobs through the whole chain, as deployed: relay and agent processes,
 * bmcsim BMCs over IPMI. A cycle is ok only once the relay read each BMC
 * off and then on again; a server whose BMC does not answer fails alone,
 * with its code; sensors come back per server.
 */
const COUNT = 6;
let fleet: BmcsimFleet;
let stack: Stack;
let token: string;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.relayUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface JobView {
  state: string;
  succeeded: number;
  failed: number;
  results: Array<{ serverId: string; ok: boolean; code?: string; data?: Record<string, unknown> }>;
}

/** Follows the job on the events feed until `bulk-finished`, then reads it. */
async function runJob(body: unknown): Promise<JobView> {
  const feed = new WebSocket(`${stack.relayUrl.replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
  await new Promise((resolve, reject) => {
    feed.addEventListener('open', resolve, { once: true });
    feed.addEventListener('error', reject, { once: true });
  });
  const finished = new Set<string>();
  const results: string[] = [];
  let wake: (() => void) | undefined;
  feed.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { type: string; jobId: string; result?: { serverId: string } };
    if (message.type === 'bulk-result') results.push(message.result!.serverId);
    if (message.type === 'bulk-finished') finished.add(message.jobId);
    wake?.();
  });
  try {
    const accepted = await api('POST', '/v1/bulk', body);
    expect(accepted.status).toBe(202);
    const jobId = accepted.body['jobId'] as string;
    const deadline = Date.now() + 60_000;
    while (!finished.has(jobId)) {
      if (Date.now() > deadline) throw new Error(`bulk job ${jobId} did not finish within 60 s`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
    const view = (await api('GET', `/v1/bulk/${jobId}`)).body as unknown as JobView;
    expect([...results].sort()).toEqual(view.results.map((result) => result.serverId).sort());
    return view;
  } finally {
    feed.close();
  }
}

beforeAll(async () => {
  fleet = await startBmcsimFleet({ count: COUNT, baseAddress: '127.73.0.1', labels: (index) => ({ role: index < 4 ? 'web' : 'db' }) });
  // web-dead: a BMC address nothing answers on (the agent's IPMI times out).
  const dead = { id: 'web-dead', rack: 'rack-01', labels: { role: 'web' }, ipmi: { ...fleet.servers[0]!.ipmi, host: '127.73.9.9' } };
  stack = await startStack([...fleet.servers, dead], {
    relayAgents: { heartbeatIntervalMs: 5000 },
    agentEnv: { BMCSIM_ADMIN_PASSWORD: BMCSIM_PASSWORD },
    agentCredentials: [{ id: 'bmcsim-admin', username: BMCSIM_USER, passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }],
    relayConfig: { bulk: { perAgentConcurrency: 2 } },
  });
  token = (await loginWithPassword(stack.relayUrl, 'operator', STACK_PASSWORD)).accessToken;
}, 240_000);

afterAll(async () => {
  await stack?.close();
  await fleet?.stop();
});

describe('bulk jobs through relay, agent and bmcsim', () => {
  it('power cycles every web server, each ok only once seen on again; the dead BMC fails alone', async () => {
    const dry = await api('POST', '/v1/bulk', { selector: { labels: { role: 'web' } }, operation: { kind: 'power', action: 'cycle' }, dryRun: true });
    expect(dry.body['total']).toBe(5);
    const view = await runJob({ selector: { labels: { role: 'web' } }, operation: { kind: 'power', action: 'cycle' } });
    expect(view).toMatchObject({ state: 'finished', succeeded: 4, failed: 1 });
    expect(view.results.find((result) => result.serverId === 'web-dead')).toMatchObject({ ok: false, code: expect.stringMatching(/^BMC_(UNREACHABLE|TIMEOUT)$|^AGENT_TIMEOUT$/) });
    for (const result of view.results.filter((entry) => entry.ok)) expect(result.data).toMatchObject({ power: 'on' });
  }, 120_000);

  it('reads the sensors of the db servers', async () => {
    const view = await runJob({ selector: { labels: { role: 'db' } }, operation: { kind: 'sensors.read' } });
    expect(view).toMatchObject({ succeeded: 2, failed: 0 });
    for (const result of view.results) expect((result.data as { sensors: unknown[] }).sensors.length).toBeGreaterThan(0);
  }, 60_000);
});
