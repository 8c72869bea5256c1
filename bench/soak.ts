/**
 * soak: N SOL consoles through the regional topology for a long while, each
 * typing a keystroke a second, with the gateway that carries them killed
 * (SIGKILL) and started again every few minutes. Processes: PostgreSQL, a
 * manager and two gateways of one region, an agent with both gateways in its
 * list, the simulated BMCs in their own process (their hosts' shells echo
 * what is typed), the clients here. Sessions are asked for at the manager and
 * follow the agent from gateway to gateway by resuming (the route answered by
 * the manager).
 *   npm run bench -- soak [--consoles 1000] [--minutes 10] [--restart-every-s 120] [--type-ms 1000]
 * Every keystroke is a token `k<console>x<seq>` and ^C; the client refuses
 * input while it knows the path is down (that is visible to the typist, and
 * counted as refused, not lost). A token the client accepted must come back
 * exactly once in the echo.
 * JSON: ours = the worst RSS growth, in %, of a process that runs the whole
 * soak (the manager and the agent), from minute 1 to the end (the median of
 * the samples of the first and of the last 30 s, so one GC does not decide
 * it); params.dropped = sessions that ended or never streamed again;
 * params.bytes_lost = bytes of accepted tokens never echoed;
 * params.bytes_repeated = bytes of tokens echoed twice. The gateways are new
 * processes after each restart: their RSS is printed, not counted in ours.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startPostgres } from '@lightsout/lab';
import { type SessionCreated, StreamClient, routeLocator } from '@lightsout/shared';
import { startConsoleFleet } from './lib/console-fleet.js';
import { type BenchResult, median, percentile, printResult, printTable } from './lib/report.js';
import { createSession, flag, rssKiB } from './lib/stream-bench.js';
import { type Stack, startStack } from './lib/stack.js';
import { nodeSocketFactory, setTimer } from './lib/stream-socket.js';
import { until } from './lib/processes.js';

const consoles = flag('consoles', 1000);
const minutes = flag('minutes', 10);
const restartEveryMs = flag('restart-every-s', 120) * 1000;
const typeEveryMs = flag('type-ms', 1000);
const durationMs = minutes * 60_000;
/** RSS is compared from "minute 1" (a tenth of the run when shorter than 10 minutes) to the end. */
const warmupMs = Math.min(60_000, durationMs / 10);
/** Each end of the comparison is the median of the samples taken over this window. */
const windowMs = Math.min(30_000, durationMs / 10);
const SAMPLE_EVERY_MS = Math.max(500, Math.min(5000, windowMs / 5));
/** After the last keystroke: how long a late echo may take to arrive before its token counts as lost. */
const SETTLE_MS = 20_000;

interface Console {
  index: number;
  serverId: string;
  client?: StreamClient;
  /** The echo not yet matched to a token (a token may straddle two reads). */
  pending: string;
  /** How often each token (by its seq) came back in the echo. */
  echoed: Map<number, number>;
  /** Tokens the client accepted, in order. */
  accepted: number[];
  refused: number;
  /** A final close: the session ended (it must not). */
  closed?: string;
  closedAt?: number;
  /** Per gateway kill (by its index in `kills`): ms from the kill until this console streamed again. */
  resumedAfter: Map<number, number>;
  seq: number;
}

const token = (index: number, seq: number) => `k${index}x${seq}`;
/** performance.now() of each gateway kill, in order. */
const kills: number[] = [];
/** The shell's echo of a token and ^C. */
const ECHO = /k(\d+)x(\d+)\^C/g;

function receive(into: Console, bytes: Uint8Array): void {
  into.pending += Buffer.from(bytes).toString('latin1');
  let end = 0;
  for (const match of into.pending.matchAll(ECHO)) {
    if (Number(match[1]) === into.index) into.echoed.set(Number(match[2]), (into.echoed.get(Number(match[2])) ?? 0) + 1);
    end = match.index + match[0].length;
  }
  into.pending = into.pending.slice(end);
  // The rest is prompts and newlines; what may still begin a token is short.
  if (into.pending.length > 256) into.pending = into.pending.slice(-64);
}

function open(session: SessionCreated, into: Console): StreamClient {
  return new StreamClient({
    streamUrl: session.streamUrl,
    token: session.token,
    socket: nodeSocketFactory(),
    setTimer,
    refuseInputWhileDown: true,
    locate: routeLocator(session.routeUrl!, (url, init) => fetch(url, init)),
    onData: (bytes) => receive(into, bytes),
    onInputRefused: () => (into.refused += 1),
    onClose: (code, reason) => {
      into.closed = `${code} ${reason}`.slice(0, 80);
      into.closedAt = performance.now();
    },
    onState: (state) => {
      const kill = kills.length - 1;
      if (state === 'streaming' && kill >= 0 && !into.resumedAfter.has(kill)) into.resumedAfter.set(kill, performance.now() - kills[kill]!);
    },
  });
}

function type(entry: Console): void {
  if (entry.client === undefined || entry.closed !== undefined) return;
  const seq = entry.seq++;
  const refusedBefore = entry.refused;
  entry.client.write(Buffer.from(`${token(entry.index, seq)}\x03`, 'latin1'));
  if (entry.refused === refusedBefore) entry.accepted.push(seq);
}

const traceFile = process.env['LIGHTSOUT_BENCH_TRACE_FILE'];
const postgres = await startPostgres();
const fleet = await startConsoleFleet(consoles);
let stack: Stack | undefined;
const entries: Console[] = fleet.servers.map((server, index) => ({ index, serverId: server.id, pending: '', echoed: new Map(), accepted: [], refused: 0, seq: 0, resumedAfter: new Map() }));
try {
  stack = await startStack(
    fleet.servers.map((server) => ({ id: server.id, ipmi: server.ipmi })),
    {
      postgresUrl: postgres.url,
      relays: 3,
      agentRelays: [1, 2],
      roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
      relayAgents: { heartbeatIntervalMs: 5000 },
      agentCredentials: fleet.credentials,
      agentEnv: fleet.environment,
      registerTimeoutMs: 300_000,
      // LIGHTSOUT_BENCH_TRACE_FILE: relays and agent log at info, and everything they wrote goes to that file at the end.
      ...(traceFile === undefined ? {} : { relayLogLevel: 'info', agentLogLevel: 'info' }),
    },
  );
  const running = stack;
  const openStarted = performance.now();
  for (let start = 0; start < consoles; start += 50) {
    await Promise.all(
      entries.slice(start, start + 50).map(async (entry) => {
        entry.client = open(await createSession(running, entry.serverId, 'sol'), entry);
        await until(() => entry.client!.inputPathUp || entry.closed !== undefined, 120_000, `${entry.serverId} streaming`);
      }),
    );
  }
  const openSeconds = (performance.now() - openStarted) / 1000;
  console.log(`${consoles} consoles open in ${openSeconds.toFixed(1)} s; load average ${loadavg()[0]!.toFixed(1)}`);

  // Keystrokes spread evenly over each period, so N consoles type N keys a second, not N at once.
  const typists = entries.map((entry) =>
    setTimeout(() => {
      type(entry);
      typists[entry.index] = setInterval(() => type(entry), typeEveryMs);
    }, (entry.index * typeEveryMs) / consoles),
  );

  const wholeRun = { manager: running.relayPid(0)!, agent: running.agentPid()! };
  const samples = new Map<string, Array<{ at: number; kib: number }>>(Object.keys(wholeRun).map((name) => [name, []]));
  const gatewayRss: string[] = [];
  const startedAt = performance.now();
  const sampler = setInterval(() => {
    const at = performance.now() - startedAt;
    for (const [name, pid] of Object.entries(wholeRun)) {
      try {
        samples.get(name)!.push({ at, kib: rssKiB(pid) });
      } catch {
        // Gone: the run fails below on the missing samples.
      }
    }
  }, SAMPLE_EVERY_MS);

  const restarts: Array<{ at_s: number; gateway: number; down_s: number }> = [];
  // Bounded by durationMs: one restart each restartEveryMs.
  for (let next = restartEveryMs; next < durationMs; next += restartEveryMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - (performance.now() - startedAt))));
    const held = await running.agentHeldBy();
    const gateway = running.relayUrls.findIndex((url) => url === held);
    const victim = gateway > 0 ? gateway : 1;
    const pid = running.relayPid(victim);
    if (pid !== undefined) gatewayRss.push(`gateway ${victim} ${(rssKiB(pid) / 1024).toFixed(1)} MiB before its kill at ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
    const killed = performance.now();
    kills.push(killed);
    await running.killRelay(victim);
    await running.startRelay(victim);
    restarts.push({ at_s: Math.round((killed - startedAt) / 1000), gateway: victim, down_s: Number(((performance.now() - killed) / 1000).toFixed(1)) });
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, durationMs - (performance.now() - startedAt))));
  for (const typist of typists) clearInterval(typist);
  clearInterval(sampler);
  for (const index of [1, 2]) {
    const pid = running.relayPid(index);
    if (pid !== undefined && running.relayRunning(index)) gatewayRss.push(`gateway ${index} ${(rssKiB(pid) / 1024).toFixed(1)} MiB at the end`);
  }

  const settled = () => entries.every((entry) => entry.closed !== undefined || (entry.client?.inputPathUp === true && entry.accepted.every((seq) => entry.echoed.has(seq))));
  await until(settled, SETTLE_MS, 'every console streaming and every accepted token echoed').catch(() => undefined);

  let bytesLost = 0;
  let bytesRepeated = 0;
  let dropped = 0;
  /** Tokens the client refused that the host ran anyway: input queued and replayed, which must never happen. */
  let refusedButRun = 0;
  const endings = new Map<string, number>();
  for (const entry of entries) {
    if (entry.closed !== undefined || entry.client?.inputPathUp !== true) {
      dropped += 1;
      const why = entry.closed ?? `not streaming (${entry.client?.state})`;
      endings.set(why, (endings.get(why) ?? 0) + 1);
    }
    for (const seq of entry.accepted) {
      const seen = entry.echoed.get(seq) ?? 0;
      const bytes = token(entry.index, seq).length + 1;
      if (seen === 0 && entry.closed === undefined) bytesLost += bytes;
      if (seen > 1) bytesRepeated += (seen - 1) * bytes;
    }
    const accepted = new Set(entry.accepted);
    for (const seq of entry.echoed.keys()) if (!accepted.has(seq)) refusedButRun += 1;
  }
  const typed = entries.reduce((sum, entry) => sum + entry.seq, 0);
  const accepted = entries.reduce((sum, entry) => sum + entry.accepted.length, 0);

  const runMs = performance.now() - startedAt;
  const growth: Record<string, number> = {};
  const rows: (string | number)[][] = [];
  for (const [name, list] of samples) {
    const first = list.filter((sample) => sample.at >= warmupMs && sample.at < warmupMs + windowMs).map((sample) => sample.kib);
    const last = list.filter((sample) => sample.at >= runMs - windowMs).map((sample) => sample.kib);
    if (first.length === 0 || last.length === 0) throw new Error(`${name}: no RSS samples at minute 1 or at the end (${list.length} samples)`);
    growth[name] = Number((((median(last) - median(first)) / median(first)) * 100).toFixed(2));
    rows.push([name, (median(first) / 1024).toFixed(1), (median(last) / 1024).toFixed(1), growth[name]!]);
  }
  printTable(`soak: ${consoles} SOL consoles for ${minutes} min through a regional deployment, the carrying gateway killed every ${restartEveryMs / 1000} s`, ['process', 'RSS MiB at minute 1', 'RSS MiB at the end', 'growth %'], rows);
  for (const line of gatewayRss) console.log(line);
  console.log(`restarts: ${JSON.stringify(restarts)}`);
  // Per kill: how many consoles streamed again and when, and how many ended before the next kill.
  kills.forEach((killedAt, kill) => {
    const seconds = entries.flatMap((entry) => (entry.resumedAfter.has(kill) ? [entry.resumedAfter.get(kill)! / 1000] : []));
    const until = kills[kill + 1] ?? Number.POSITIVE_INFINITY;
    const ended = entries.filter((entry) => entry.closedAt !== undefined && entry.closedAt >= killedAt && entry.closedAt < until).length;
    const stats = seconds.length === 0 ? '' : `, p50 ${median(seconds).toFixed(1)} s, p99 ${percentile(seconds, 99).toFixed(1)} s, max ${Math.max(...seconds).toFixed(1)} s`;
    console.log(`kill ${kill + 1} (${restarts[kill]!.at_s} s, gateway ${restarts[kill]!.gateway}): ${seconds.length} consoles streamed again${stats}; ${ended} ended`);
  });
  console.log(`keystrokes typed ${typed}, accepted ${accepted}, refused while the path was down ${typed - accepted}; dropped sessions ${dropped}; bytes lost ${bytesLost}, repeated ${bytesRepeated}; refused tokens run anyway ${refusedButRun}`);
  if (endings.size > 0) console.log(`sessions that ended: ${JSON.stringify(Object.fromEntries(endings))}`);
  const worst = Math.max(...Object.values(growth));
  const result: BenchResult = {
    bench: 'soak',
    metric: 'worst RSS growth from minute 1 to the end of a process running the whole soak (manager, agent)',
    unit: '%',
    better: 'lower',
    ours: worst,
    baselines: {},
    params: {
      consoles,
      minutes,
      restart_every_s: restartEveryMs / 1000,
      type_ms: typeEveryMs,
      restarts: restarts.length,
      dropped,
      bytes_lost: bytesLost,
      bytes_repeated: bytesRepeated,
      refused_but_run: refusedButRun,
      keystrokes: typed,
      accepted,
      refused: typed - accepted,
      growth_pct: growth,
      open_s: Number(openSeconds.toFixed(1)),
      load_average: Number(loadavg()[0]!.toFixed(1)),
    },
  };
  for (const entry of entries) entry.client?.close();
  if (traceFile !== undefined) writeFileSync(traceFile, running.output());
  printResult(result);
} finally {
  for (const entry of entries) entry.client?.close();
  await stack?.close();
  await fleet.stop();
  await postgres.stop();
}
