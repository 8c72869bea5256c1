/**
 * bulk-power: power cycle N simulated BMCs (bmcsim, default 1,000, each on
 * its own 127.x address, IPMI) with one call, wall seconds until all report:
 *   ours       one POST /v1/bulk through a relay and an agent (processes, as
 *              deployed); done when the events feed says `bulk-finished`, and
 *              a server counts only once it was SEEN off and on again (the agent reads, power.await);
 *   ipmipower  FreeIPMI's parallel power tool, `--cycle` on the same N
 *              targets; done when the BMCs accepted (it does not observe).
 * Both at the same concurrency (the agent's IPMI session pool is 64, so
 * `--concurrency 64`: bulk.perAgentConcurrency and `ipmipower -F`).
 * After an untimed status pass, each runs twice, alternating, with the fleet
 * back on between runs; best of two each.
 *   npm run bench -- bulk-power [--count 1000] [--concurrency 64]
 */
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { loginWithPassword } from '@lightsout/relay/testing';
import { BMCSIM_PASSWORD, BMCSIM_USER, startBmcsimFleet } from './lib/bmcsim-fleet.js';
import { printResult, printTable } from './lib/report.js';
import { STACK_PASSWORD, startStack } from './lib/stack.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '64' } } });
const count = Number(values.count);
const concurrency = Number(values.concurrency);

interface OursRun {
  seconds: number;
  failed: number;
  codes: Record<string, number>;
}

const fleet = await startBmcsimFleet({ count, baseAddress: '127.72.0.1', labels: () => ({ role: 'bench' }) });
const ipmipowerArgs = ['-h', fleet.ipmiTargets.join(','), '-u', BMCSIM_USER, '-p', BMCSIM_PASSWORD, '-D', 'LAN_2_0', '-I', '17', '-F', String(concurrency)];
let stack: Awaited<ReturnType<typeof startStack>> | undefined;
try {
  stack = await startStack(fleet.servers, {
    relayAgents: { heartbeatIntervalMs: 5000 },
    agentEnv: { BMCSIM_ADMIN_PASSWORD: BMCSIM_PASSWORD },
    agentCredentials: [{ id: 'bmcsim-admin', username: BMCSIM_USER, passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }],
    // One tenant, one agent, N servers: its fairness budget sized for the job's concurrency.
    relayConfig: {
      limits: { bmcOperations: { perTenant: concurrency * 4, perTenantPerAgent: concurrency * 2 } },
      bulk: { perAgentConcurrency: concurrency, maxInFlight: concurrency * 2, maxServers: Math.max(count, 1) },
    },
  });
  const relayUrl = stack.relayUrl;
  // A person's fresh sign-in: a destructive job over the step-up threshold needs one.
  const token = (await loginWithPassword(relayUrl, 'operator', STACK_PASSWORD)).accessToken;

  const allOn = async (): Promise<void> => {
    // Bounded: a cycled BMC is back on after bmcsim's cycle time (1 s).
    for (let attempt = 0; attempt < 60; attempt += 1) {
      const { stdout } = await run('ipmipower', [...ipmipowerArgs, '--stat'], { maxBuffer: 16 * 1024 * 1024 });
      if (stdout.split('\n').filter((line) => line.endsWith(': on')).length === count) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error('the fleet did not come back on');
  };

  const ours = async (): Promise<OursRun> => {
    const feed = new WebSocket(`${relayUrl.replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
    await new Promise((resolve, reject) => {
      feed.addEventListener('open', resolve, { once: true });
      feed.addEventListener('error', reject, { once: true });
    });
    const job: { id?: string } = {};
    const early: Array<{ jobId: string }> = [];
    let finish: ((message: { jobId: string }) => void) | undefined;
    const finished = new Promise<{ jobId: string }>((resolve) => (finish = resolve));
    feed.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { type: string; jobId: string };
      if (message.type !== 'bulk-finished') return;
      if (job.id === undefined) early.push(message);
      else if (message.jobId === job.id) finish!(message);
    });
    const started = performance.now();
    const response = await fetch(`${relayUrl}/v1/bulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ selector: { labels: { role: 'bench' } }, operation: { kind: 'power', action: 'cycle' } }),
    });
    const accepted = (await response.json()) as { jobId: string; total: number };
    if (response.status !== 202 || accepted.total !== count) throw new Error(`bulk refused: ${response.status} ${JSON.stringify(accepted)}`);
    job.id = accepted.jobId;
    if (early.some((message) => message.jobId === job.id)) finish!({ jobId: job.id });
    await finished;
    const seconds = (performance.now() - started) / 1000;
    feed.close();
    const view = (await (await fetch(`${relayUrl}/v1/bulk/${job.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { failed: number; results: Array<{ serverId: string; ok: boolean; code?: string; message?: string; seconds: number }> };
    const codes: Record<string, number> = {};
    for (const result of view.results) if (!result.ok) codes[result.code ?? 'INTERNAL'] = (codes[result.code ?? 'INTERNAL'] ?? 0) + 1;
    // A few failures in full, for the diagnosis; the seconds of the successes say how the job spread out.
    for (const result of view.results.filter((entry) => !entry.ok).slice(0, 3)) console.log(`  failed: ${result.serverId} after ${result.seconds} s: ${result.code} ${result.message}`);
    const took = view.results.filter((entry) => entry.ok).map((entry) => entry.seconds).sort((left, right) => left - right);
    if (took.length > 0) console.log(`  per-server seconds of the successes: p50 ${took[Math.floor(took.length / 2)]}, p99 ${took[Math.floor(took.length * 0.99)]}, max ${took.at(-1)}`);
    return { seconds, failed: view.failed, codes };
  };

  const ipmipower = async (): Promise<{ seconds: number; ok: number }> => {
    const started = performance.now();
    const { stdout } = await run('ipmipower', [...ipmipowerArgs, '--cycle'], { maxBuffer: 16 * 1024 * 1024 });
    return { seconds: (performance.now() - started) / 1000, ok: stdout.split('\n').filter((line) => line.endsWith(': ok')).length };
  };

  await allOn();
  const oursRuns: OursRun[] = [];
  const ipmipowerRuns: Array<{ seconds: number; ok: number }> = [];
  for (let round = 0; round < 2; round += 1) {
    oursRuns.push(await ours());
    await allOn();
    ipmipowerRuns.push(await ipmipower());
    await allOn();
  }
  const best = oursRuns.reduce((left, right) => (right.seconds < left.seconds ? right : left));
  const bestIpmipower = ipmipowerRuns.reduce((left, right) => (right.seconds < left.seconds ? right : left));
  const failures = Math.max(...oursRuns.map((entry) => entry.failed));
  console.log(`ours: ${oursRuns.map((entry) => `${entry.seconds.toFixed(2)} s (${entry.failed} failed${entry.failed > 0 ? ` ${JSON.stringify(entry.codes)}` : ''})`).join(', ')}; ipmipower: ${ipmipowerRuns.map((entry) => `${entry.seconds.toFixed(2)} s (${count - entry.ok} not ok)`).join(', ')}`);
  printTable(`power cycle of ${count} bmcsim BMCs (IPMI, suite 17), wall time until all report`, ['client', 'seconds', 'failed', 'what "done" means'], [
    [`lightsout: one POST /v1/bulk, relay + agent (concurrency ${concurrency})`, best.seconds, best.failed, 'each BMC seen off, then on again'],
    [`ipmipower --cycle -F ${concurrency}`, bestIpmipower.seconds, count - bestIpmipower.ok, 'each BMC accepted the command'],
  ]);
  printResult({
    bench: 'bulk-power',
    metric: 'wall time until every server of one bulk power cycle reports',
    unit: 's',
    better: 'lower',
    ours: Math.round(best.seconds * 1000) / 1000,
    baselines: { ipmipower: Math.round(bestIpmipower.seconds * 1000) / 1000 },
    params: { servers: count, failures, concurrency, ipmipowerFailures: count - bestIpmipower.ok, runs: { ours: oursRuns.map((entry) => Math.round(entry.seconds * 1000) / 1000), ipmipower: ipmipowerRuns.map((entry) => Math.round(entry.seconds * 1000) / 1000) } },
  });
} finally {
  await stack?.close();
  await fleet.stop();
}
