import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loginWithPassword } from '@lightsout/relay/testing';
import { startStack, type Stack, type StackServer } from '../lib/stack.js';

/**
 * Fairness between tenants on one agent: tenant `demo` floods BMC operations
 * (1,100 concurrent SEL reads of one server), tenant `bravo` reads the sensors
 * of its own server on the same agent meanwhile. Real relay, agent and bmcsim,
 * each its own process, as deployed. Before the per-tenant bounds, bravo's call
 * waited behind demo's queue for 11–21 s; now its median during the flood is
 * well under a second and the flood's excess is refused with 429 RATE_LIMITED
 * and Retry-After. Figures measured on a 2-core machine: docs/security.md.
 */
const bmcsimBin = fileURLToPath(new URL('../../bmcsim/bin/bmcsim.js', import.meta.url));
const FLOOD = 1100;
const MAX_QUIET_CALLS = 40;
const BRAVO_PASSWORD = 'bravo-operator-password-1';

let directory: string;
/** One simulator process per BMC: real BMCs are separate machines, a slow one does not slow another. */
const simulators: ChildProcess[] = [];
let stack: Stack | undefined;
let bravoToken: string;
let relayUrl: string;

async function startBmcsim(agentConfig: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bmcsimBin, '--count', '1', '--address', '127.0.0.1', '--ports', 'ipmi=0,web=0,vnc=0', '--http', '--quiet', '--agent-config', agentConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (/BMCs up in \d+ ms/.test(output)) resolve();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`bmcsim exited ${code}: ${output.slice(-1000)}`)));
  });
  await ready;
  return child;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
  const response = await fetch(`${relayUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), retryAfter: response.headers.get('retry-after') };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-fairness-'));
  const simulated: Array<{ ipmi: Record<string, unknown>; redfish: Record<string, unknown> }> = [];
  for (const name of ['flooded', 'quiet']) {
    const agentConfig = join(directory, `bmcsim-${name}.yaml`);
    simulators.push(await startBmcsim(agentConfig));
    simulated.push((parse(readFileSync(agentConfig, 'utf8')) as { servers: Array<{ ipmi: Record<string, unknown>; redfish: Record<string, unknown> }> }).servers[0]!);
  }
  const servers: StackServer[] = [
    { id: 'flooded', tenant: 'demo', ipmi: simulated[0]!.ipmi, redfish: simulated[0]!.redfish },
    { id: 'quiet', tenant: 'bravo', ipmi: simulated[1]!.ipmi, redfish: simulated[1]!.redfish },
  ];
  stack = await startStack(servers, {
    // Production heartbeat timing (the stack's default of 500 ms suits its kill -9 tests).
    relayAgents: { heartbeatIntervalMs: 5000 },
    ...(process.env['FAIRNESS_DEBUG'] === undefined ? {} : { relayLogLevel: 'info' }),
    agentEnv: { BMCSIM_ADMIN_PASSWORD: 'adminpass' },
    agentCredentials: [{ id: 'bmcsim-admin', username: 'admin', passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }],
    beforeAgent: async (running) => {
      relayUrl = running.relayUrl;
      expect((await api(running.adminToken, 'POST', '/v1/tenants', { id: 'bravo', name: 'Bravo' })).status).toBe(201);
      expect((await api(running.adminToken, 'POST', '/v1/users', { username: 'bravo-operator', password: BRAVO_PASSWORD, role: 'operator', tenant: 'bravo' })).status).toBe(201);
    },
  });
  bravoToken = (await loginWithPassword(stack.relayUrl, 'bravo-operator', BRAVO_PASSWORD)).accessToken;
}, 180_000);

/**
 * The flooding tenant is another client on another machine: its requests are
 * made by a child process, so the cost of making 1,100 requests and reading
 * their answers does not land on the event loop that times bravo's calls.
 * Prints `sent` once every request is issued, then one JSON line of results.
 */
const FLOODER = `
const [url, token, count] = process.argv.slice(1);
const one = async () => {
  try {
    const response = await fetch(url, { headers: { authorization: 'Bearer ' + token } });
    const text = await response.text();
    return { status: response.status, code: text === '' ? null : JSON.parse(text).code ?? null, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    return { status: 0, code: String(error.cause?.code ?? error.message), retryAfter: null };
  }
};
const all = Promise.all(Array.from({ length: Number(count) }, one));
process.stdout.write('sent\\n');
process.stdout.write(JSON.stringify(await all) + '\\n');
`;

interface FloodAnswer {
  status: number;
  code: string | null;
  retryAfter: string | null;
}

function startFlood(url: string, token: string, count: number): { sent: Promise<void>; results: Promise<FloodAnswer[]>; isSettled(): boolean } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, url, token, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let settled = false;
  let markSent: () => void = () => undefined;
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  const results = new Promise<FloodAnswer[]>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.startsWith('sent\n')) markSent();
    });
    child.once('exit', (code) => {
      settled = true;
      markSent();
      const last = output.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('[')) resolve(JSON.parse(last) as FloodAnswer[]);
      else reject(new Error(`the flooder exited ${code}: ${output.slice(-500)}`));
    });
  });
  return { sent, results, isSettled: () => settled };
}

afterAll(async () => {
  // FAIRNESS_DEBUG=FILE keeps the relay's and agent's output for a look afterwards.
  if (process.env['FAIRNESS_DEBUG'] !== undefined && stack !== undefined) writeFileSync(process.env['FAIRNESS_DEBUG'], stack.output());
  await stack?.close();
  await Promise.all(
    simulators.map(async (simulator) => {
      if (simulator.exitCode !== null) return;
      const exited = once(simulator, 'exit');
      simulator.kill('SIGTERM');
      await exited;
    }),
  );
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

describe('one tenant cannot starve another of BMC operations', { timeout: 240_000 }, () => {
  it(`another tenant's sensors answer within 1 s while one tenant floods ${FLOOD} concurrent SEL reads`, async () => {
    // Warm both paths: IPMI sessions opened, SDR read once.
    expect((await api(stack!.operatorToken, 'GET', '/v1/servers/flooded/sel')).status).toBe(200);
    // Two calls at once, as during the flood: both keep-alive connections exist
    // before it, so no measurement includes opening a connection while the relay
    // holds 1,100 others (that costs every client alike and is not what is measured).
    const [idle] = await Promise.all([timed(() => api(bravoToken, 'GET', '/v1/servers/quiet/sensors')), timed(() => fetch(`${relayUrl}/healthz`).then((response) => response.text()))]);
    expect(idle.value.status).toBe(200);
    const idleMs = idle.ms;

    const flood = startFlood(`${relayUrl}/v1/servers/flooded/sel`, stack!.operatorToken, FLOOD);
    await flood.sent;
    // Bravo calls one after another for as long as the flood lasts (bounded).
    const duringFlood: Array<{ sensorsMs: number; frontMs: number }> = [];
    while (!flood.isSettled() && duringFlood.length < MAX_QUIET_CALLS) {
      // The relay's HTTP front at the same moment: what any request pays, BMC or not.
      const [sensors, front] = await Promise.all([timed(() => api(bravoToken, 'GET', '/v1/servers/quiet/sensors')), timed(() => fetch(`${relayUrl}/healthz`).then((response) => response.text()))]);
      duringFlood.push({ sensorsMs: sensors.ms, frontMs: front.ms });
      expect(sensors.value.status, JSON.stringify(sensors.value.body)).toBe(200);
    }
    const results = await flood.results;
    const byStatus = new Map<number, number>();
    for (const result of results) byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
    const byCode = new Map<string, number>();
    for (const result of results) byCode.set(`${result.status} ${result.code ?? ''}`.trim(), (byCode.get(`${result.status} ${result.code ?? ''}`.trim()) ?? 0) + 1);
    const sorted = duringFlood.map((entry) => entry.sensorsMs).sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    // What the BMC path adds over the relay's HTTP front at the same moment.
    const excess = duringFlood.map((entry) => entry.sensorsMs - entry.frontMs).sort((x, y) => x - y);
    const medianExcess = excess[Math.floor(excess.length / 2)] ?? Number.NaN;
    console.info(
      `fairness: bravo sensors idle ${idleMs.toFixed(0)} ms; ${duringFlood.length} calls during the flood, median ${median.toFixed(0)} ms (over the front: ${medianExcess.toFixed(0)} ms), max ${Math.max(...sorted).toFixed(0)} ms ` +
        `(${duringFlood.map((entry) => `${entry.sensorsMs.toFixed(0)}/front ${entry.frontMs.toFixed(0)}`).join(', ')}); flood answers ${JSON.stringify(Object.fromEntries(byCode))}`,
    );
    // Meaningful only if bravo's calls ran during the flood. Before the bounds, bravo's
    // first call waited for most of the flood to drain (11–21 s) and the median was that wait.
    // The median of what the BMC path adds over a /healthz call made at the same
    // moment, not the maximum of the raw figure: on a machine loaded far past its
    // two cores, the relay's HTTP front alone (accepting 1,100 connections) stalls
    // single calls for seconds, for every caller alike (the "front" figures).
    expect(duringFlood.length).toBeGreaterThanOrEqual(3);
    expect(medianExcess).toBeLessThan(1000);
    // The flooding tenant is still served, most of its flood refused at once (before the
    // bounds all of it was queued and served), in the documented shape.
    expect(byStatus.get(200) ?? 0).toBeGreaterThan(0);
    expect(byStatus.get(429) ?? 0).toBeGreaterThan(FLOOD / 2);
    for (const result of results.filter((entry) => entry.status !== 200)) {
      expect(result).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(result.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  });
});
