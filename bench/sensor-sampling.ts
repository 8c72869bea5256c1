/**
 * sensor-sampling: what the agent's background sensor sampling costs. One
 * agent (real process, registered with a real relay) serves N bmcsim BMCs
 * (default 1,000, each on its own 127.x address, IPMI): first with sampling
 * off (poll.sensorsIntervalMs 0: the baseline, same fleet, same run), then
 * with every server's sensors read once per --interval-ms:
 *   ours          the agent's largest RSS over the measured passes, MiB;
 *   sampling-off  the same agent's RSS with sampling off, MiB;
 *   cpu_pct       the agent's CPU over the measured passes, % of one core (cpu_pct_off: the same window with sampling off);
 *   pass_seconds  wall time of each measured full pass (spread over 80 % of the interval by design);
 *   samples / failures  background reads in the measured passes, from the agent's /metrics;
 *   history_*     servers and bytes the agent's sensor history holds at the end.
 * A server's columns are allocated whole (720 samples) when it is first kept,
 * so the measured RSS already holds the full history's memory. bmcsim reports
 * 5 sensors a server, a real server 30–80: the history of N servers full at
 * --full-sensors is measured too, in this process (the bytes and RSS that
 * filling a SensorHistoryStore takes: full_*).
 * The first pass is a warm-up (first sessions, the simulators' JIT) and is not measured.
 *   npm run bench -- sensor-sampling [--count 1000] [--interval-ms 20000] [--passes 2] [--concurrency 16] [--full-sensors 40]
 */
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SensorHistoryStore } from '@lightsout/agent';
import { SENSOR_HISTORY_LIMIT, type Sensor } from '@lightsout/shared';
import { freeTcpPort } from '@lightsout/lab';
import { BMCSIM_PASSWORD, BMCSIM_USER, startBmcsimFleet } from './lib/bmcsim-fleet.js';
import { printResult, printTable } from './lib/report.js';
import { startStack, type Stack } from './lib/stack.js';
import { cpuSeconds } from './lib/proc.js';
import { rssKiB } from './lib/stream-bench.js';
import { metricTotal } from './lib/prometheus-text.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    'interval-ms': { type: 'string', default: '20000' },
    passes: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    'full-sensors': { type: 'string', default: '40' },
  },
});
const count = Number(values.count);
const intervalMs = Number(values['interval-ms']);
const passes = Math.max(1, Number(values.passes));
const concurrency = Number(values.concurrency);
const fullSensors = Number(values['full-sensors']);
const MIB = 2 ** 20;

// A full collection before each RSS reading: what the history holds, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * The sensor history of `count` servers, every one full (720 samples of `sensorCount` sensors), built
 * in this process: the bytes of its columns and what it added to this process's RSS (after a full collection).
 */
function fillHistory(sensorCount: number): { bytes: number; rss: number } {
  const sensors: Sensor[] = Array.from({ length: sensorCount }, (_, index) => ({ name: `sensor ${index}`, type: 'temperature', value: 40 + index / 7, unit: 'degrees C', status: 'ok' }));
  collectGarbage();
  const before = process.memoryUsage().rss;
  const store = new SensorHistoryStore(SENSOR_HISTORY_LIMIT, count);
  for (let row = 0; row < SENSOR_HISTORY_LIMIT; row += 1) for (let server = 0; server < count; server += 1) store.sample(`server-${server}`, row * 60_000, sensors);
  collectGarbage();
  const result = { bytes: store.bytes, rss: process.memoryUsage().rss - before };
  store.forget('server-0');
  return result;
}


interface Scrape {
  passes: number;
  passSeconds: number;
  ok: number;
  samples: number;
  historyServers: number;
  historyBytes: number;
}

async function scrape(metricsUrl: string): Promise<Scrape> {
  const text = await (await fetch(metricsUrl)).text();
  return {
    passes: metricTotal(text, 'lightsout_agent_sensor_pass_duration_seconds_count'),
    passSeconds: metricTotal(text, 'lightsout_agent_sensor_pass_duration_seconds_sum'),
    ok: metricTotal(text, 'lightsout_agent_sensor_samples_total', 'result="ok"'),
    samples: metricTotal(text, 'lightsout_agent_sensor_samples_total'),
    historyServers: metricTotal(text, 'lightsout_agent_sensor_history_servers'),
    historyBytes: metricTotal(text, 'lightsout_agent_sensor_history_bytes'),
  };
}

async function startAgentStack(fleet: Awaited<ReturnType<typeof startBmcsimFleet>>, sensorsIntervalMs: number, metricsPort: number): Promise<Stack> {
  return startStack(fleet.servers, {
    agentEnv: { BMCSIM_ADMIN_PASSWORD: BMCSIM_PASSWORD },
    agentCredentials: [{ id: 'bmcsim-admin', username: BMCSIM_USER, passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }],
    // Power is polled as deployed (every 30 s, 64 at once): the baseline and the measured run differ only in sensor sampling.
    agentConfig: { metrics: { listen: metricsPort }, poll: { sensorsIntervalMs, sensorsConcurrency: concurrency } },
    registerTimeoutMs: 600_000,
    waitForServers: [fleet.servers[0]!.id, fleet.servers.at(-1)!.id],
  });
}

/** The agent's RSS, every 500 ms over `ms`: the largest. */
async function maxRss(pid: number, ms: number): Promise<number> {
  let largest = 0;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    largest = Math.max(largest, rssKiB(pid) * 1024);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return largest;
}

const fleet = await startBmcsimFleet({ count, baseAddress: '127.84.0.1' });
let stack: Stack | undefined;
try {
  // Baseline: sampling off. Its largest RSS over as long as the measured passes take, after as long as the warm-up pass.
  stack = await startAgentStack(fleet, 0, await freeTcpPort());
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
  const offPid = stack.agentPid()!;
  const offCpuBefore = cpuSeconds(offPid);
  const rssOff = await maxRss(offPid, intervalMs * passes);
  const cpuPctOff = ((cpuSeconds(offPid) - offCpuBefore) / (intervalMs * passes / 1000)) * 100;
  await stack.close();
  stack = undefined;

  const metricsPort = await freeTcpPort();
  stack = await startAgentStack(fleet, intervalMs, metricsPort);
  const pid = stack.agentPid()!;
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const deadline = Date.now() + intervalMs * (passes + 3) + 120_000;
  const ends: Scrape[] = [];
  let rssOn = 0;
  let cpuAtWarm = { seconds: 0, at: 0 };
  for (;;) {
    const sample = await scrape(metricsUrl).catch(() => undefined);
    rssOn = ends.length > 0 ? Math.max(rssOn, rssKiB(pid) * 1024) : rssOn;
    if (sample !== undefined && sample.passes > (ends.at(-1)?.passes ?? 0)) {
      ends.push(sample);
      if (ends.length === 1) cpuAtWarm = { seconds: cpuSeconds(pid), at: performance.now() };
      console.log(`pass ${sample.passes}: ${sample.passSeconds.toFixed(1)} s in all; reads ${sample.samples} (ok ${sample.ok}); history ${sample.historyServers} servers, ${(sample.historyBytes / MIB).toFixed(2)} MiB; RSS ${(rssKiB(pid) / 1024).toFixed(0)} MiB`);
      if (sample.passes >= 1 + passes) break;
    }
    if (Date.now() > deadline) throw new Error(`the agent finished ${ends.length} of ${1 + passes} sensor passes in time`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const cpuPct = ((cpuSeconds(pid) - cpuAtWarm.seconds) / ((performance.now() - cpuAtWarm.at) / 1000)) * 100;
  const warm = ends[0]!;
  const last = ends.at(-1)!;
  const passSeconds = ends.slice(1).map((end, index) => (end.passSeconds - ends[index]!.passSeconds) / (end.passes - ends[index]!.passes));
  const measuredReads = last.samples - warm.samples;
  const failures = measuredReads - (last.ok - warm.ok);
  await stack.close();
  stack = undefined;

  // A server's columns are allocated whole: (8 + 4 × sensors) bytes a row, SENSOR_HISTORY_LIMIT rows.
  const sensorCount = Math.round((last.historyBytes / Math.max(1, last.historyServers) / SENSOR_HISTORY_LIMIT - 8) / 4);
  // The bound at a real server's sensor count (--full-sensors): every server's history full.
  const fullReal = fillHistory(fullSensors);

  printTable(`agent RSS with ${count} bmcsim BMCs, sensors read every ${intervalMs / 1000} s (${concurrency} at once), ${passes} measured passes`, ['agent', 'RSS MiB', 'CPU % of one core', 'pass seconds', 'reads', 'failed'], [
    ['sensor sampling on', rssOn / MIB, cpuPct, Math.max(...passSeconds), measuredReads, failures],
    ['sampling off (poll.sensorsIntervalMs 0)', rssOff / MIB, cpuPctOff, '—', '—', '—'],
  ]);
  console.log(
    `history after ${last.passes} passes: ${last.historyServers} servers, ${(last.historyBytes / MIB).toFixed(2)} MiB (${sensorCount} sensors a server); ` +
      `at ${fullSensors} sensors a server: ${(fullReal.bytes / MIB).toFixed(1)} MiB of columns, +${(fullReal.rss / MIB).toFixed(1)} MiB RSS`,
  );
  printResult({
    bench: 'sensor-sampling',
    metric: 'agent RSS with every server\'s sensors sampled in the background',
    unit: 'MiB',
    better: 'lower',
    ours: Math.round((rssOn / MIB) * 10) / 10,
    baselines: { 'sampling-off': Math.round((rssOff / MIB) * 10) / 10 },
    params: {
      bmcs: count,
      interval_ms: intervalMs,
      concurrency,
      passes: last.passes - warm.passes,
      cpu_pct: Math.round(cpuPct * 10) / 10,
      cpu_pct_off: Math.round(cpuPctOff * 10) / 10,
      pass_seconds: passSeconds.map((seconds) => Math.round(seconds * 100) / 100),
      reads: measuredReads,
      failures,
      sensors_per_server: sensorCount,
      history_servers: last.historyServers,
      history_mib: Math.round((last.historyBytes / MIB) * 100) / 100,
      full_sensors: fullSensors,
      full_history_mib_at_full_sensors: Math.round((fullReal.bytes / MIB) * 10) / 10,
      full_history_rss_mib_at_full_sensors: Math.round((fullReal.rss / MIB) * 10) / 10,
    },
  });
} finally {
  await stack?.close();
  await fleet.stop();
}
