/**
 * gateway-failover: N open SOL consoles on one gateway of a regional
 * deployment (processes: a manager and two gateways of one region on one
 * PostgreSQL, an agent with both gateways in its list, N simulated BMCs in
 * their own process); every host writes a numbered line to its console 10
 * times a second (--line-ms). The
 * gateway carrying the consoles is killed with SIGKILL. Per console: seconds
 * from the kill until it streams again (a line arrives through the other
 * gateway), and whether any line was lost or repeated.
 *   npm run bench -- gateway-failover [--consoles 200] [--kind sol|serial] [--line-ms 100]
 * JSON: ours = p99 s until a console streams again; params.lost = bytes lost
 * (lines written but never received), params.repeated = bytes received twice,
 * params.cpu_s = CPU seconds each process spent from the kill to the last
 * resume. Printed beside it ("trace:"): when the store named the other
 * gateway, how long route questions took and what they answered, why legs
 * failed. LIGHTSOUT_BENCH_TRACE=1 also logs relay and agent at info and
 * counts their log lines per second after the kill.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres } from '@lightsout/lab';
import { startConsoleFleet } from './lib/console-fleet.js';
import { type StreamClient, routeLocator } from '@lightsout/shared';
import { type BenchResult, median, percentile, printResult, printTable } from './lib/report.js';
import { connect, cpuSeconds, createSession, flag } from './lib/stream-bench.js';
import { startStack } from './lib/stack.js';

const consoles = flag('consoles', 200);
const kindIndex = process.argv.indexOf('--kind');
const kind = kindIndex === -1 ? 'sol' : process.argv[kindIndex + 1]!;
if (kind !== 'sol' && kind !== 'serial') throw new Error('--kind is sol or serial');
/** Each host writes a line this often (--line-ms): 200 consoles at 100 ms are 2,000 SOL packets a second to carry and acknowledge. */
const LINE_EVERY_MS = flag('line-ms', 100);
/** LIGHTSOUT_BENCH_TRACE=1: relay and agent log at info, and what they logged after the kill is summarised per second. */
const trace = process.env['LIGHTSOUT_BENCH_TRACE'] === '1';
// The relays and the agent started from here report their event-loop delay (bench/lib/loop-lag-preload.mjs).
if (trace) process.env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import ${fileURLToPath(new URL('./lib/loop-lag-preload.mjs', import.meta.url))}`.trim();
const RESUME_TIMEOUT_MS = 60_000;

/** One console as the benchmark sees it: what its host wrote, what its client got, when it came back. */
interface Probe {
  index: number;
  written: number;
  text: string;
  client?: StreamClient;
  /** Set by a reconnect after the kill; the first bytes after it mark the console streaming again. */
  dropped: boolean;
  resumedAt?: number;
  /** How the session ended, if it did (it must not). */
  closed?: string;
  /** After the kill: each route question (start, end ms after the kill, answer) and each leg that failed (ms, why). */
  locates: Array<{ start: number; end?: number; answer?: string }>;
  failures: Array<{ at: number; why: string }>;
}

const lineOf = (index: number, seq: number) => `@${index}:${seq}#\r\n`;

/** performance.now() of the kill (0 until then): trace times are relative to it. */
let killedAt = 0;
const postgres = await startPostgres();
// The BMCs (and the hosts writing lines) run in their own process, apart from the clients measured here.
const fleet = await startConsoleFleet(consoles);
let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let watcher: pg.Client | undefined;
try {
  stack = await startStack(
    fleet.servers.map((server) => ({ id: server.id, ...(kind === 'sol' ? { ipmi: server.ipmi } : { serial: server.serial }) })),
    {
      postgresUrl: postgres.url,
      relays: 3,
      agentRelays: [1, 2],
      roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
      // The relay's default heartbeat (5 s, offline after 3 missed): the stack's 500 ms makes a starved agent flap
      // while 200 SOL sessions open, which is not what is measured here.
      relayAgents: { heartbeatIntervalMs: 5000 },
      ...(trace ? { relayLogLevel: 'info', agentConfig: { log: { level: 'info' } } } : {}),
      agentCredentials: fleet.credentials,
      agentEnv: fleet.environment,
    },
  );
  const probes: Probe[] = fleet.servers.map((_, index) => ({ index, written: 0, text: '', dropped: false, locates: [], failures: [] }));
  const marker = /@(\d+):(\d+)#/g;
  // Open every console at the manager; each streams at the gateway holding the agent.
  let holder: string | undefined;
  for (let start = 0; start < consoles; start += 50) {
    await Promise.all(
      probes.slice(start, start + 50).map(async (probe) => {
        const session = await createSession(stack!, fleet.servers[probe.index]!.id, kind);
        holder ??= session.streamUrl.replace(/\/v1\/streams\/.*$/, '');
        probe.client = await connect(
          session,
          {
            locate: async (token) => {
              const asked = { start: performance.now() - killedAt };
              probe.locates.push(asked);
              const answer = await routeLocator(session.routeUrl!, (url, init) => fetch(url, init))(token).catch(() => undefined);
              Object.assign(asked, { end: performance.now() - killedAt, answer: answer === undefined ? 'none' : answer.replace(/\/v1\/streams\/.*$/, '') });
              return answer;
            },
            onData: (bytes) => {
              probe.text += Buffer.from(bytes).toString('latin1');
              if (probe.dropped && probe.resumedAt === undefined) probe.resumedAt = performance.now();
            },
            onState: (state, detail) => {
              if (state === 'reconnecting') {
                probe.dropped = true;
                if (detail !== undefined) probe.failures.push({ at: performance.now() - killedAt, why: detail.slice(0, 60) });
              }
            },
            onClose: (code, reason) => (probe.closed = `${code} ${reason}`),
          },
          120_000,
        );
      }),
    );
  }
  await fleet.lines(LINE_EVERY_MS);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  watcher = new pg.Client({ connectionString: postgres.url });
  await watcher.connect();
  const gatewayIndex = stack.relayUrls.findIndex((url) => url.replace(/^http/, 'ws') === holder);
  if (gatewayIndex <= 0) throw new Error(`the consoles stream at ${holder}, not at a gateway of the stack`);
  const processes = { manager: stack.relayPid(0), gateway: stack.relayPid(gatewayIndex === 1 ? 2 : 1), agent: stack.agentPid(), bmcs: fleet.pid, clients: process.pid };
  // CPU while the consoles just stream (2 s before the kill): subtracted from what the failover window costs, so
  // cpu_ms_per_console is the failover's own work (the gateway taking over streams nothing before the kill).
  const cpuSteadyFrom = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const steadyFrom = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const cpuAtKill = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const steadyRate = Object.fromEntries(Object.entries(processes).map(([name]) => [name, (cpuAtKill[name]! - cpuSteadyFrom[name]!) / ((performance.now() - steadyFrom) / 1000)]));
  killedAt = performance.now();
  const killedEpoch = Date.now();
  // CLOCK_MONOTONIC in µs, the clock of V8's CPU profiles: a profile's samples can be cut to this window.
  const killedMonotonicUs = process.hrtime.bigint() / 1000n;
  await stack.killRelay(gatewayIndex);
  const goneAfterMs = performance.now() - killedAt;
  let agentMovedAt: number | undefined;
  const newHolder = stack.relayUrls[gatewayIndex === 1 ? 2 : 1]!;
  // When the store names the other gateway as the agent's holder: one connection, opened before the kill.
  void (async () => {
    // Bounded by the resume deadline below.
    while (agentMovedAt === undefined && performance.now() < killedAt + RESUME_TIMEOUT_MS) {
      const held = await watcher
        .query<{ public_url: string }>("select r.public_url from agents a join replicas r on r.id = a.gateway_id where a.name = 'stack-agent'")
        .then((result) => result.rows[0]?.public_url)
        .catch(() => undefined);
      if (held === newHolder) agentMovedAt = performance.now() - killedAt;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const deadline = killedAt + RESUME_TIMEOUT_MS;
  // Bounded by the deadline.
  while (probes.some((probe) => probe.resumedAt === undefined) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  // CPU each process spent from the kill until every console resumed (or the deadline): what a failover costs.
  const cpuToResume = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, Number((cpuSeconds(pid) - cpuAtKill[name]!).toFixed(2))]));
  const resumeWallS = (performance.now() - killedAt) / 1000;
  // Per resumed console: all the CPU of the window, and net of what streaming costs each process in that time (the
  // gateway taking over streamed nothing before the kill: its figure is the same both ways).
  const resumedCount = probes.filter((probe) => probe.resumedAt !== undefined).length;
  const perConsole = (cpu: number) => (resumedCount === 0 ? -1 : Number(((cpu * 1000) / resumedCount).toFixed(2)));
  const cpuMsPerConsole = Object.fromEntries(Object.entries(cpuToResume).map(([name, cpu]) => [name, perConsole(cpu)]));
  const cpuMsPerConsoleNet = Object.fromEntries(Object.entries(cpuToResume).map(([name, cpu]) => [name, perConsole(Math.max(0, cpu - steadyRate[name]! * resumeWallS))]));
  console.log(`cpu ms per resumed console: ${JSON.stringify(cpuMsPerConsole)}; net of streaming: ${JSON.stringify(cpuMsPerConsoleNet)}; streaming before the kill, CPU s per s: ${JSON.stringify(Object.fromEntries(Object.entries(steadyRate).map(([name, rate]) => [name, Number(rate.toFixed(3))])))}`);
  console.log(`profile window (monotonic µs, kill to last resume): ${killedMonotonicUs} ${process.hrtime.bigint() / 1000n}; pids ${JSON.stringify(processes)}`);
  console.log(`cpu seconds from the kill to the last resume (${resumeWallS.toFixed(1)} s wall): ${JSON.stringify(cpuToResume)}; load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}`);
  // Two more seconds of lines through the new gateway, then every line written must arrive.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await fleet.lines(0);
  const written = await fleet.written();
  for (const probe of probes) probe.written = written[probe.index]!;
  const settleBy = performance.now() + 15_000;
  const complete = (probe: Probe) => probe.text.includes(lineOf(probe.index, probe.written - 1).slice(0, -2));
  // Bounded by settleBy.
  while (probes.some((probe) => !complete(probe)) && performance.now() < settleBy) await new Promise((resolve) => setTimeout(resolve, 50));

  let lost = 0;
  let repeated = 0;
  const seconds: number[] = [];
  for (const probe of probes) {
    const seen = new Map<number, number>();
    let first = Number.POSITIVE_INFINITY;
    for (const match of probe.text.matchAll(marker)) {
      if (Number(match[1]) !== probe.index) continue;
      const seq = Number(match[2]);
      first = Math.min(first, seq);
      seen.set(seq, (seen.get(seq) ?? 0) + 1);
    }
    // Lines before the console was first attached are not the benchmark's; from the first one seen, every line counts.
    for (let seq = Number.isFinite(first) ? first : 0; seq < probe.written; seq += 1) {
      const count = seen.get(seq) ?? 0;
      if (count === 0) lost += lineOf(probe.index, seq).length;
      if (count > 1) repeated += (count - 1) * lineOf(probe.index, seq).length;
    }
    seconds.push(probe.resumedAt === undefined ? Number.POSITIVE_INFINITY : (probe.resumedAt - killedAt) / 1000);
  }
  const resumed = seconds.filter(Number.isFinite).length;
  const endings = new Map<string, number>();
  for (const probe of probes) if (probe.closed !== undefined) endings.set(probe.closed.slice(0, 80), (endings.get(probe.closed.slice(0, 80)) ?? 0) + 1);
  if (endings.size > 0) console.log(`sessions that ended: ${JSON.stringify(Object.fromEntries(endings))}`);
  const p99 = percentile(seconds, 99);
  console.log(`trace: the killed gateway's exit seen ${goneAfterMs.toFixed(0)} ms after the kill`);
  traceSummary(probes, agentMovedAt, newHolder.replace(/^http/, 'ws'));
  if (trace) logSummary(stack.output(), killedEpoch);
  if (process.env['LIGHTSOUT_BENCH_TRACE_FILE'] !== undefined) writeFileSync(process.env['LIGHTSOUT_BENCH_TRACE_FILE'], `${JSON.stringify({ killedEpoch })}\n${stack.output()}`);
  printTable(`gateway-failover: ${consoles} ${kind} consoles, kill -9 of the gateway carrying them`, ['consoles', 'resumed', 'median s', 'p99 s', 'max s', 'bytes lost', 'bytes repeated'], [
    [consoles, resumed, median(seconds), p99, Math.max(...seconds), lost, repeated],
  ]);
  const result: BenchResult = {
    bench: 'gateway-failover',
    metric: 'seconds from kill -9 of a gateway until every console streams again through another (p99)',
    unit: 's',
    better: 'lower',
    ours: Number.isFinite(p99) ? Number(p99.toFixed(3)) : -1,
    baselines: {},
    params: { consoles, kind, resumed, ended: [...endings.values()].reduce((sum, count) => sum + count, 0), lost, repeated, median_s: Number(median(seconds).toFixed(3)), max_s: Number.isFinite(Math.max(...seconds)) ? Number(Math.max(...seconds).toFixed(3)) : -1, line_ms: LINE_EVERY_MS, cpu_s: cpuToResume, cpu_ms_per_console: cpuMsPerConsole, cpu_ms_per_console_net: cpuMsPerConsoleNet, load_average: Number(loadavg()[0]!.toFixed(1)) },
  };
  for (const probe of probes) probe.client?.close();
  printResult(result);
} finally {
  await watcher?.end().catch(() => undefined);
  await stack?.close();
  await fleet.stop();
  await postgres.stop();
}

/** Where the time after the kill went, across all consoles (ms after the kill). */
function traceSummary(probes: Probe[], agentMovedAt: number | undefined, newGateway: string): void {
  const all = probes.flatMap((probe) => probe.locates);
  const durations = all.filter((asked) => asked.end !== undefined).map((asked) => asked.end! - asked.start);
  const firstRight = probes.map((probe) => probe.locates.find((asked) => asked.answer === newGateway)?.end ?? Number.POSITIVE_INFINITY);
  const whys = new Map<string, number>();
  for (const probe of probes) for (const failure of probe.failures) whys.set(failure.why, (whys.get(failure.why) ?? 0) + 1);
  const answers = new Map<string, number>();
  for (const asked of all) answers.set(asked.answer ?? 'pending', (answers.get(asked.answer ?? 'pending') ?? 0) + 1);
  const fmt = (values: number[]) => (values.length === 0 ? '-' : `p50 ${median(values).toFixed(0)} p99 ${percentile(values, 99).toFixed(0)} max ${Math.max(...values).toFixed(0)}`);
  console.log(`trace: agent on the other gateway (store) at ${agentMovedAt?.toFixed(0) ?? 'never'} ms`);
  console.log(`trace: route questions ${all.length} (${(all.length / probes.length).toFixed(1)} per console), answered in ${fmt(durations)} ms; answers ${JSON.stringify(Object.fromEntries(answers))}`);
  console.log(`trace: first answer naming the new gateway ${fmt(firstRight.filter(Number.isFinite))} ms`);
  console.log(`trace: failed legs ${[...whys.values()].reduce((sum, count) => sum + count, 0)} ${JSON.stringify(Object.fromEntries(whys))}`);
  console.log(`trace: resumed ${fmt(probes.filter((probe) => probe.resumedAt !== undefined).map((probe) => probe.resumedAt! - killedAt))} ms`);
}

/** The relay's and agent's log lines after the kill, counted per message and second (pino JSON lines). */
function logSummary(output: string, killedEpoch: number): void {
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: number; msg?: string; looplag?: string; maxMs?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.time === undefined || entry.time < killedEpoch - 200) continue;
    const second = Math.floor((entry.time - killedEpoch) / 1000);
    const what = entry.looplag !== undefined ? `loop lag ${entry.looplag} >${Math.floor((entry.maxMs ?? 0) / 250) * 250} ms` : (entry.msg ?? '?').slice(0, 70);
    counts.set(`${String(second).padStart(3)} s  ${what}`, (counts.get(`${String(second).padStart(3)} s  ${what}`) ?? 0) + 1);
  }
  for (const [key, count] of [...counts].sort()) console.log(`log: ${key}  ×${count}`);
}
