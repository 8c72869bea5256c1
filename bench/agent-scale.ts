/**
 * agent-scale: one agent managing N bmcsim BMCs (default 10,000, spread over
 * several bmcsim processes, each BMC on its own 127.x address), registered
 * with a real relay, polling power state as deployed (poll.intervalMs, at
 * most poll.concurrency sessions, a round spread over 80 % of the interval):
 *   ours       seconds of the slowest measured full poll round of all N, from the agent's /metrics;
 *   cpu_pct    the agent's CPU over the measured rounds (polling and the idle between), % of one core;
 *   rss_mib    the agent's largest RSS in that time;
 *   failures   polls that failed in the measured rounds, plus polls that never happened;
 *   ipmipower  FreeIPMI's `ipmipower --stat` on the same N targets in the same run (the agent frozen meanwhile).
 * The first round is a warm-up (the simulators' JIT, first sessions) and is not measured.
 *   npm run bench -- agent-scale [--count 10000] [--processes 4] [--interval-ms 30000] [--rounds 2]
 * AGENT_SCALE_NODE_OPTIONS is the agent process's NODE_OPTIONS alone (e.g. `--cpu-prof --cpu-prof-dir=DIR`
 * to profile the agent without profiling the simulators, the relay and the bench too).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { addressOf } from '@lightsout/bmcsim';
import { BMCSIM_UP, spawnBmcsim, stopProcess, untilOutput } from './lib/bmcsim-process.js';
import { startStack, type Stack } from './lib/stack.js';
import { freeTcpPort } from '@lightsout/lab';
import { printResult, printTable } from './lib/report.js';
import { metricTotal } from './lib/prometheus-text.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    processes: { type: 'string', default: '4' },
    'interval-ms': { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
  },
});
const count = Number(values.count);
const processes = Math.max(1, Math.min(Number(values.processes), count));
const intervalMs = Number(values['interval-ms']);
const rounds = Math.max(1, Number(values.rounds));
const concurrency = Number(values.concurrency);
const baseAddress = '127.80.0.1';
const port = process.getuid?.() === 0 ? 623 : 20623; // bmcsim's per-address default port
const hosts = Array.from({ length: count }, (_, index) => addressOf(baseAddress, index));

/** `127.80.0.[1-255],127.80.1.[0-255],…`: FreeIPMI's host ranges, since 10,000 addresses overflow one argument. */
function hostRanges(addresses: readonly string[]): string {
  const byPrefix = new Map<string, number[]>();
  for (const address of addresses) {
    const cut = address.lastIndexOf('.');
    const list = byPrefix.get(address.slice(0, cut + 1)) ?? [];
    list.push(Number(address.slice(cut + 1)));
    byPrefix.set(address.slice(0, cut + 1), list);
  }
  return [...byPrefix].map(([prefix, octets]) => `${prefix}[${Math.min(...octets)}-${Math.max(...octets)}]${port === 623 ? '' : `:${port}`}`).join(',');
}

interface Scrape {
  at: number;
  rounds: number;
  roundSeconds: number;
  cpuSeconds: number;
  rssBytes: number;
  pollsOk: number;
  failures: number;
}


async function scrape(metricsUrl: string): Promise<Scrape> {
  const text = await (await fetch(metricsUrl)).text();
  return {
    at: performance.now(),
    rounds: metricTotal(text, 'lightsout_agent_poll_round_duration_seconds_count'),
    roundSeconds: metricTotal(text, 'lightsout_agent_poll_round_duration_seconds_sum'),
    cpuSeconds: metricTotal(text, 'process_cpu_seconds_total'),
    rssBytes: metricTotal(text, 'process_resident_memory_bytes'),
    pollsOk: metricTotal(text, 'lightsout_agent_bmc_operation_duration_seconds_count', 'operation="power.poll",protocol="ipmi",result="ok"'),
    failures: metricTotal(text, 'lightsout_agent_poll_failures_total'),
  };
}

/** The agent spreads a round over this long (pollSpreadMs, agent/src/state-poller.ts): no round ends sooner after it starts. */
const spreadMs = Math.min(intervalMs * 0.8, count * 10);
/** Scrape period near a round's end, and how long before the earliest possible end it starts. */
const SCRAPE_NEAR_END_MS = 500;
const SCRAPE_LEAD_MS = 3000;

/**
 * Scrapes until `rounds` rounds are done; returns the scrape at each round's end, and the largest RSS seen (at
 * those scrapes). A round's end is seen within SCRAPE_NEAR_END_MS, so the CPU window and the polls counted in it
 * stay exact, but the agent is scraped only from shortly before a round can end: each scrape is part of its CPU
 * figure, and at 10,000 BMCs one costs it ~20–40 ms (process_open_fds lists /proc/self/fd, nodejs_active_handles
 * walks every socket) — scraping every 500 ms throughout added ~4 % of a core. Rounds start every intervalMs.
 */
async function untilRound(metricsUrl: string, target: number, timeoutMs: number): Promise<{ atEnd: Scrape; maxRss: number; roundEnds: Scrape[] }> {
  const deadline = Date.now() + timeoutMs;
  let maxRss = 0;
  const roundEnds: Scrape[] = [];
  let last = -1;
  for (;;) {
    const sample = await scrape(metricsUrl).catch(() => undefined);
    if (sample !== undefined) {
      maxRss = Math.max(maxRss, sample.rssBytes);
      if (sample.rounds !== last) {
        const previous = roundEnds.at(-1);
        if (previous !== undefined) {
          const seconds = (sample.roundSeconds - previous.roundSeconds) / Math.max(1, sample.rounds - previous.rounds);
          console.log(`round ${sample.rounds}: ${seconds.toFixed(2)} s; CPU ${(((sample.cpuSeconds - previous.cpuSeconds) / ((sample.at - previous.at) / 1000)) * 100).toFixed(1)} % since the last round; polls ok ${sample.pollsOk}, failed ${sample.failures}; RSS ${(sample.rssBytes / 2 ** 20).toFixed(0)} MiB`);
        }
        last = sample.rounds;
        roundEnds.push(sample);
      }
      if (sample.rounds >= target) return { atEnd: sample, maxRss, roundEnds };
    }
    if (Date.now() > deadline) throw new Error(`the agent finished ${last} of ${target} poll rounds in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(SCRAPE_NEAR_END_MS, quietMs(roundEnds))));
  }
}

/** How long nothing needs a scrape: until SCRAPE_LEAD_MS before the next round can end (0 before the first round's end). */
function quietMs(roundEnds: readonly Scrape[]): number {
  const end = roundEnds.at(-1);
  if (end === undefined || end.rounds < 1) return 0;
  const before = roundEnds.at(-2);
  const lastSeconds = before === undefined ? end.roundSeconds / end.rounds : (end.roundSeconds - before.roundSeconds) / Math.max(1, end.rounds - before.rounds);
  const nextStart = end.at - lastSeconds * 1000 + intervalMs;
  return nextStart + spreadMs - SCRAPE_LEAD_MS - performance.now();
}

/**
 * ipmipower over every target, in batches of IPMIPOWER_BATCH hosts one after the other: one ipmipower
 * process cannot take 10,000 (it fails with `ipmi_get_random: Bad file descriptor` past its descriptor
 * limit). A batch that fails counts its hosts as failed.
 */
const IPMIPOWER_BATCH = 500;
async function ipmipower(): Promise<{ seconds: number; on: number; off: number; batches: number }> {
  const started = performance.now();
  let on = 0;
  let off = 0;
  let batches = 0;
  for (let offset = 0; offset < hosts.length; offset += IPMIPOWER_BATCH) {
    batches += 1;
    try {
      const { stdout } = await run('ipmipower', ['-h', hostRanges(hosts.slice(offset, offset + IPMIPOWER_BATCH)), '-u', 'admin', '-p', 'adminpass', '-D', 'LAN_2_0', '-I', '17', '--stat', '-F', String(concurrency)], { maxBuffer: 64 * 1024 * 1024 });
      const lines = stdout.split('\n');
      on += lines.filter((line) => line.endsWith(': on')).length;
      off += lines.filter((line) => line.endsWith(': off')).length;
    } catch (error) {
      console.log(`ipmipower batch at ${offset} failed: ${String((error as { stderr?: string }).stderr ?? error).trim().slice(0, 200)}`);
    }
  }
  return { seconds: (performance.now() - started) / 1000, on, off, batches };
}

const directory = mkdtempSync(join(tmpdir(), 'lightsout-agent-scale-'));
const fleets: ChildProcess[] = [];
let stack: Stack | undefined;
try {
  const perProcess = Math.ceil(count / processes);
  const fleetStart = performance.now();
  for (let index = 0; index * perProcess < count; index += 1) {
    const size = Math.min(perProcess, count - index * perProcess);
    fleets.push(spawnBmcsim(['--count', String(size), '--base-address', hosts[index * perProcess]!, '--http', '--quiet', '--agent-config', join(directory, `bmcsim-${index}.yaml`)], 'inherit'));
  }
  await Promise.all(fleets.map((child) => untilOutput(child, BMCSIM_UP, 600_000)));
  console.log(`${count} BMCs in ${fleets.length} bmcsim processes up in ${((performance.now() - fleetStart) / 1000).toFixed(1)} s`);

  const metricsPort = await freeTcpPort();
  const registerStart = performance.now();
  stack = await startStack(
    hosts.map((host, index) => ({ id: `bmc-${String(index).padStart(5, '0')}`, ipmi: { host, port, credentials: 'bmc', cipherSuite: 17 } })),
    {
      agentCredentials: [{ id: 'bmc', username: 'admin', passwordEnv: 'AGENT_SCALE_BMC_PASSWORD' }],
      agentEnv: { AGENT_SCALE_BMC_PASSWORD: 'adminpass', ...(process.env['AGENT_SCALE_NODE_OPTIONS'] === undefined ? {} : { NODE_OPTIONS: process.env['AGENT_SCALE_NODE_OPTIONS'] }) },
      // Power polling alone, as the figures in docs/benchmarks.md were taken (sensor sampling has its own bench, sensor-sampling).
      agentConfig: { metrics: { listen: metricsPort }, poll: { intervalMs, concurrency, sensorsIntervalMs: 0 } },
      registerTimeoutMs: 600_000,
      // One inventory is applied as a whole: when the first and the last are online, every server is.
      waitForServers: [`bmc-00000`, `bmc-${String(count - 1).padStart(5, '0')}`],
    },
  );
  console.log(`inventory of ${count} servers registered in ${((performance.now() - registerStart) / 1000).toFixed(1)} s`);
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const roundTimeout = Math.max(intervalMs * 10, 300_000);
  const warm = await untilRound(metricsUrl, 1, roundTimeout);
  const measured = await untilRound(metricsUrl, 1 + rounds, roundTimeout * rounds);
  const ends = [warm.atEnd, ...measured.roundEnds.filter((sample) => sample.rounds > warm.atEnd.rounds)];
  const roundSeconds = ends.slice(1).map((sample, index) => (sample.roundSeconds - ends[index]!.roundSeconds) / Math.max(1, sample.rounds - ends[index]!.rounds));
  const first = warm.atEnd;
  const last = measured.atEnd;
  const measuredRounds = last.rounds - first.rounds;
  const cpuPct = ((last.cpuSeconds - first.cpuSeconds) / ((last.at - first.at) / 1000)) * 100;
  const failures = last.failures - first.failures + Math.max(0, count * measuredRounds - (last.pollsOk - first.pollsOk) - (last.failures - first.failures));
  const ours = Math.max(...roundSeconds);

  // The baseline with the agent frozen, so the two never compete for the BMCs or the CPU.
  const agentPid = stack.agentPid();
  if (agentPid !== undefined) process.kill(agentPid, 'SIGSTOP');
  let baseline: Awaited<ReturnType<typeof ipmipower>>;
  try {
    baseline = await ipmipower();
  } finally {
    if (agentPid !== undefined) process.kill(agentPid, 'SIGCONT');
  }

  printTable(`power state of ${count} bmcsim BMCs (suite 17), one agent, poll.intervalMs ${intervalMs}, poll.concurrency ${concurrency}`, ['client', 'seconds per full poll', 'answered', 'failed'], [
    [`lightsout agent (slowest of ${measuredRounds} rounds, paced over ${(intervalMs * 0.8) / 1000} s)`, ours, count * measuredRounds - failures, failures],
    [`ipmipower --stat -F ${concurrency} (burst, ${baseline.batches} batches of ≤ ${IPMIPOWER_BATCH} hosts)`, baseline.seconds, baseline.on + baseline.off, count - baseline.on - baseline.off],
  ]);
  console.log(`agent: rounds ${roundSeconds.map((seconds) => seconds.toFixed(2)).join(', ')} s; CPU ${cpuPct.toFixed(1)} % of one core; RSS ≤ ${(measured.maxRss / 2 ** 20).toFixed(0)} MiB`);
  printResult({
    bench: 'agent-scale',
    metric: 'seconds for one full power-state poll of every BMC by one agent',
    unit: 's',
    better: 'lower',
    ours: Math.round(ours * 1000) / 1000,
    baselines: { ipmipower: Math.round(baseline.seconds * 1000) / 1000 },
    params: {
      bmcs: count,
      bmcsim_processes: fleets.length,
      interval_ms: intervalMs,
      concurrency,
      rounds: measuredRounds,
      round_seconds: roundSeconds.map((seconds) => Math.round(seconds * 1000) / 1000),
      cpu_pct: Math.round(cpuPct * 10) / 10,
      rss_mib: Math.round((Math.max(measured.maxRss, warm.maxRss) / 2 ** 20) * 10) / 10,
      failures,
      ipmipower_failures: count - baseline.on - baseline.off,
      ipmipower_batch: IPMIPOWER_BATCH,
    },
  });
} finally {
  await stack?.close();
  await Promise.all(fleets.map(stopProcess));
  rmSync(directory, { recursive: true, force: true });
}
