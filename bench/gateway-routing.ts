/**
 * gateway-routing: what routing a request to the replica that holds the
 * agent costs. One PostgreSQL, a manager and two gateways (processes), an
 * agent on the first gateway, a simulated BMC (bmcsim, its own process).
 * N `power status` requests (POST /v1/servers/:id/power {action: status}),
 * one at a time, taking turns between three replicas in the same run:
 *   owning         the gateway holding the agent (the hub asks it directly);
 *   manager        the manager (request and answer cross the cluster bus:
 *                  PostgreSQL NOTIFY each way);
 *   other-gateway  the second gateway, same path as the manager.
 * ours = p99 ms through the manager; baselines.owning = p99 ms through the
 * owning gateway. Goal: p99 added ≤ 5 ms.
 *   npm run bench -- gateway-routing [--requests 1000] [--warmup 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { postgresInstalled, startPostgres } from '@lightsout/lab';
import { BMCSIM_CREDENTIALS, startBmcsim } from './lib/bmcsim.js';
import { median, percentile, printResult, printTable } from './lib/report.js';
import { startStack } from './lib/stack.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '1000' }, warmup: { type: 'string', default: '50' } } });
const requests = Number(values.requests);
const warmup = Number(values.warmup);
if (!postgresInstalled()) throw new Error('gateway-routing needs PostgreSQL (apt-get install postgresql)');

const unlimited = { perSecond: 100_000, burst: 1_000_000 };
const directory = mkdtempSync(join(tmpdir(), 'lightsout-gateway-routing-'));
const postgres = await startPostgres();
const bmc = await startBmcsim(directory, 'routing');
const stack = await startStack([{ id: 'sim-01', ...bmc.endpoints }], {
  relays: 3,
  postgresUrl: postgres.url,
  roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu' }, { role: 'gateway', region: 'eu' }],
  agentRelays: [1],
  // Production heartbeat timing; the rate limits would refuse a benchmark's pace.
  relayAgents: { heartbeatIntervalMs: 5000 },
  relayConfig: { limits: { bmcOperations: { perToken: unlimited, perSubject: unlimited, perTenantRate: unlimited } } },
  agentEnv: BMCSIM_CREDENTIALS.env,
  agentCredentials: BMCSIM_CREDENTIALS.entries,
});

const paths = [
  { name: 'owning', index: 1 },
  { name: 'manager', index: 0 },
  { name: 'other-gateway', index: 2 },
] as const;

try {
  const holder = await stack.agentHeldBy();
  if (holder !== stack.relayUrls[1]) throw new Error(`the agent should be held by gateway 1, the store says ${holder}`);
  const tokens = await Promise.all(paths.map((path) => stack.tokenAt(path.index)));
  const once = async (slot: number): Promise<number> => {
    const started = performance.now();
    const response = await fetch(`${stack.relayUrls[paths[slot]!.index]}/v1/servers/sim-01/power`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[slot]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'status' }),
    });
    const body = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`${paths[slot]!.name}: HTTP ${response.status} ${body}`);
    return ms;
  };
  for (let round = 0; round < warmup; round += 1) for (let slot = 0; slot < paths.length; slot += 1) await once(slot);
  const samples: number[][] = paths.map(() => []);
  // Taking turns: every path sees the same machine load, BMC and database.
  for (let round = 0; round < requests; round += 1) for (let slot = 0; slot < paths.length; slot += 1) samples[slot]!.push(await once(slot));

  const stats = samples.map((list) => ({ p50: median(list), p99: percentile(list, 99), max: Math.max(...list) }));
  const [owning, manager, other] = stats as [(typeof stats)[0], (typeof stats)[0], (typeof stats)[0]];
  printTable(
    `gateway-routing: ${requests} power status requests per path, one at a time, taking turns (ms)`,
    ['path', 'p50', 'p99', 'max', 'p99 added'],
    stats.map((stat, slot) => [paths[slot]!.name, stat.p50, stat.p99, stat.max, stat.p99 - owning.p99]),
  );
  printResult({
    bench: 'gateway-routing',
    metric: 'power status p99 through a replica that does not hold the agent (the manager)',
    unit: 'ms',
    better: 'lower',
    ours: manager.p99,
    baselines: { owning: owning.p99 },
    params: {
      requests,
      warmup,
      p99_added_ms: manager.p99 - owning.p99,
      p50_added_ms: manager.p50 - owning.p50,
      owning_p50_ms: owning.p50,
      manager_p50_ms: manager.p50,
      other_gateway_p50_ms: other.p50,
      other_gateway_p99_ms: other.p99,
      transport: 'PostgreSQL LISTEN/NOTIFY',
    },
  });
} finally {
  await stack.close();
  await bmc.stop();
  await postgres.stop();
  rmSync(directory, { recursive: true, force: true });
}
