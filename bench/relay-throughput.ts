/**
 * relay-throughput: bulk bytes client WebSocket → relay → agent → TCP sink
 * (relay and agent are real processes), against the same bytes through
 * Debian's websockify (WebSocket → TCP) and straight over TCP, in one run.
 * Ours runs three ways: through the single process (role all, SQLite) with
 * the default recording policy (text consoles are recorded, so every byte is
 * also written to the recording), the same with recording off (what
 * websockify does: forwarding only), and through a gateway of the regional
 * topology (a manager and a gateway on PostgreSQL, the agent on the gateway,
 * the session asked for at the manager; its recording goes to PostgreSQL,
 * whose CPU is not counted).
 * Also, for scale, through two plain TCP forwarder processes
 * (lib/tcp-forwarder.ts): the same three loopback hops with nothing done in
 * the middle, what any two-process relay on this machine could reach at best.
 * CPU-seconds per GiB: the relay (or gateway) and agent processes' user +
 * system time over each transfer (/proc/PID/stat), and websockify's — the
 * child it forks for the connection, read before the connection closes,
 * plus the listening parent's. The bench process's own CPU over a transfer
 * (the sender and the sink live in it) is reported too
 * (`params.client_cpu_s_per_gib`, `websockify_client_cpu_s_per_gib`): it
 * shares the two cores with the chain, so a costly sender lowers ours.
 * Every path first carries `--warmup-mib` untimed (relay, agent and the
 * bench's client are long-running V8 processes: a cold first transfer runs
 * unoptimised code with a young generation still growing, and cost 1.6–2.7×
 * the CPU per GiB of the next; websockify and the forwarders get the same).
 *   npm run bench -- relay-throughput [--mib 256] [--runs 3] [--warmup-mib min(128, mib)]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { cpuSeconds } from './lib/proc.js';
import { type BenchResult, median, printResult, printTable } from './lib/report.js';
import { freeTcpPort, postgresInstalled, startPostgres } from '@lightsout/lab';
import { connect, createSession, drainSignal, flag, pump, startCountingSink } from './lib/stream-bench.js';
import { startStack } from './lib/stack.js';

const MIB = 1024 * 1024;
const totalBytes = flag('mib', 256) * MIB;
const runs = flag('runs', 3);
const warmupBytes = flag('warmup-mib', Math.min(128, totalBytes / MIB)) * MIB;
/** What one transfer carries: the warm-up's size first, then the measured size. */
let transferBytes = warmupBytes;
const chunk = Buffer.alloc(64 * 1024, 0x5a);

if (!postgresInstalled()) throw new Error('relay-throughput needs PostgreSQL for its gateway path (apt-get install postgresql)');
const sink = await startCountingSink();
const sinkServer = { id: 'sink-01', serial: { url: `tcp://127.0.0.1:${sink.port}` } };
const stack = await startStack([sinkServer]);
const unrecorded = await startStack([sinkServer], { recordingPolicy: { '*': { serial: false } } });
const postgres = await startPostgres();
const regional = await startStack([sinkServer], { relays: 2, postgresUrl: postgres.url, roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu' }], agentRelays: [1] });
const regionalToken = await regional.tokenAt(0);

const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
/** websockify's per-connection child (it forks one per client). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}
const GIB = 1024 ** 3;
const cpu = { ours: [] as number[], unrecorded: [] as number[], gateway: [] as number[], websockify: [] as number[] };
/** The bench process's own CPU (sender + sink) per GiB, for ours (single process, recorded) and websockify: whether the sender is what limits. */
const clientCpu = { ours: [] as number[], websockify: [] as number[] };
/** The same for the other paths of ours, kept out of the result (the sender does the same work on every path). */
const clientCpuNotReported: number[] = [];
const websockifyPort = await freeTcpPort();
const websockify = spawn('/usr/bin/websockify', [`127.0.0.1:${websockifyPort}`, `127.0.0.1:${sink.port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
let websockifyLog = '';
websockify.stderr!.setEncoding('utf8').on('data', (text: string) => (websockifyLog += text));

const forwarders: ChildProcess[] = [];
/** A tcp-forwarder process in front of `target`; resolves with its port. */
async function startForwarder(target: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./lib/tcp-forwarder.ts', import.meta.url)), String(target)], { stdio: ['pipe', 'pipe', 'inherit'] });
  forwarders.push(child);
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), once(child, 'exit').then(() => [])])) as string[];
  if (!line) throw new Error('tcp-forwarder exited before listening');
  return (JSON.parse(line) as { port: number }).port;
}
const forwardedPort = await startForwarder(await startForwarder(sink.port));

async function timed(run: () => Promise<void>): Promise<number> {
  sink.reset();
  const started = process.hrtime.bigint();
  await Promise.all([run(), sink.waitFor(transferBytes)]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return transferBytes / 1e6 / seconds;
}

/** Through relay (or the manager, which hands out the gateway's stream URL) and agent; `pids` are the processes whose CPU the transfer costs. */
async function ours(at: { relayUrl: string; operatorToken: string }, pids: number[], cpuPerGib: number[], clientCpuPerGib: number[]): Promise<number> {
  const session = await createSession(at, 'sink-01');
  const drain = drainSignal();
  const client = await connect(session, { onData: () => {}, onDrain: drain.onDrain });
  const before = cpuOf(pids);
  const ownBefore = process.cpuUsage();
  const rate = await timed(() => pump(client, transferBytes, chunk, drain.wait));
  cpuPerGib.push((cpuOf(pids) - before) / (transferBytes / GIB));
  clientCpuPerGib.push(ownCpuSince(ownBefore) / (transferBytes / GIB));
  client.close();
  return rate;
}

/** This process's CPU seconds since `before`: the sending client and the sink (both live here). */
function ownCpuSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

async function viaWebsockify(): Promise<number> {
  const earlier = new Set(childrenOf(websockify.pid!));
  const socket = new WebSocket(`ws://127.0.0.1:${websockifyPort}/`, ['binary'], { perMessageDeflate: false });
  // websockify answers a close with status 1005 in the frame, which ws rightly calls invalid.
  socket.on('error', () => {});
  await once(socket, 'open');
  // The child forked for this connection (an earlier run's may still be exiting).
  const forked = childrenOf(websockify.pid!).filter((pid) => !earlier.has(pid));
  if (forked.length !== 1) throw new Error(`expected websockify to fork one process for the connection, found ${forked.length}`);
  const pids = [websockify.pid!, forked[0]!];
  const before = cpuOf(pids);
  const ownBefore = process.cpuUsage();
  const rate = await timed(async () => {
    let sent = 0;
    // Same backpressure rule as our client: keep at most a few MiB in flight.
    while (sent < transferBytes) {
      while (socket.bufferedAmount > 4 * MIB) await new Promise((resolve) => setTimeout(resolve, 1));
      const length = Math.min(chunk.length, transferBytes - sent);
      socket.send(chunk.subarray(0, length));
      sent += length;
    }
  });
  cpu.websockify.push((cpuOf(pids) - before) / (transferBytes / GIB));
  clientCpu.websockify.push(ownCpuSince(ownBefore) / (transferBytes / GIB));
  socket.terminate();
  return rate;
}

/** Plain TCP to `port`: the sink itself (direct) or the first of the two forwarders. */
async function overTcp(port: number): Promise<number> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const rate = await timed(async () => {
    let sent = 0;
    while (sent < transferBytes) {
      const length = Math.min(chunk.length, transferBytes - sent);
      sent += length;
      if (!socket.write(chunk.subarray(0, length))) await once(socket, 'drain');
    }
  });
  socket.destroy();
  return rate;
}

// Wait until websockify listens (it prints its banner on stderr).
const deadline = Date.now() + 15_000;
while (!websockifyLog.includes('proxying')) {
  if (Date.now() > deadline) throw new Error(`websockify did not start: ${websockifyLog}`);
  await new Promise((resolve) => setTimeout(resolve, 20));
}

const results = { ours: [] as number[], unrecorded: [] as number[], gateway: [] as number[], websockify: [] as number[], direct: [] as number[], forwarded: [] as number[] };
const single = { relayUrl: stack.relayUrl, operatorToken: stack.operatorToken };
const viaManager = { relayUrl: regional.relayUrls[0]!, operatorToken: regionalToken };
try {
  const paths: (() => Promise<void>)[] = [
    async () => void results.ours.push(await ours(single, [stack.relayPid()!, stack.agentPid()!], cpu.ours, clientCpu.ours)),
    async () => void results.unrecorded.push(await ours(unrecorded, [unrecorded.relayPid()!, unrecorded.agentPid()!], cpu.unrecorded, clientCpuNotReported)),
    async () => void results.gateway.push(await ours(viaManager, [regional.relayPid(1)!, regional.agentPid()!], cpu.gateway, clientCpuNotReported)),
    async () => void results.websockify.push(await viaWebsockify()),
    async () => void results.direct.push(await overTcp(sink.port)),
    async () => void results.forwarded.push(await overTcp(forwardedPort)),
  ];
  if (warmupBytes > 0) {
    for (const path of paths) await path();
    for (const values of [...Object.values(results), ...Object.values(cpu), ...Object.values(clientCpu), clientCpuNotReported]) values.length = 0;
  }
  transferBytes = totalBytes;
  // Each round starts at the next path, so that no path always runs first, after the same one
  // (the recorded path, always first, cost about twice the unrecorded one in two loaded runs; docs/benchmarks.md).
  for (let run = 0; run < runs; run++) {
    for (let step = 0; step < paths.length; step++) await paths[(run + step) % paths.length]!();
  }
} finally {
  websockify.kill('SIGTERM');
  for (const forwarder of forwarders) forwarder.stdin!.end();
  await stack.close();
  await unrecorded.close();
  await regional.close();
  await postgres.stop();
  await sink.close();
}

const row = (name: string, values: number[]) => [name, median(values), Math.min(...values), Math.max(...values)];
printTable(`relay-throughput: ${totalBytes / MIB} MiB per run, ${runs} runs (MB/s, median / min / max)`, ['path', 'median', 'min', 'max'], [
  row('client WS → relay → agent → TCP (ours)', results.ours),
  row('  the same, recording off', results.unrecorded),
  row('client WS → gateway → agent → TCP (ours, regional: session asked at the manager)', results.gateway),
  row('WS → websockify → TCP', results.websockify),
  row('direct TCP', results.direct),
  row('TCP → forwarder → forwarder → TCP (ceiling, no framing)', results.forwarded),
]);
const result: BenchResult = {
  bench: 'relay-throughput',
  metric: 'bulk throughput client → BMC-side TCP sink',
  unit: 'MB/s',
  better: 'higher',
  ours: Number(median(results.ours).toFixed(1)),
  baselines: {
    websockify: Number(median(results.websockify).toFixed(1)),
    'direct-tcp': Number(median(results.direct).toFixed(1)),
    'tcp-two-forwarders': Number(median(results.forwarded).toFixed(1)),
  },
  params: {
    mib: totalBytes / MIB,
    runs,
    warmup_mib: warmupBytes / MIB,
    gateway: Number(median(results.gateway).toFixed(1)),
    unrecorded: Number(median(results.unrecorded).toFixed(1)),
    cpu_s_per_gib: Number(median(cpu.ours).toFixed(2)),
    unrecorded_cpu_s_per_gib: Number(median(cpu.unrecorded).toFixed(2)),
    gateway_cpu_s_per_gib: Number(median(cpu.gateway).toFixed(2)),
    websockify_cpu_s_per_gib: Number(median(cpu.websockify).toFixed(2)),
    client_cpu_s_per_gib: Number(median(clientCpu.ours).toFixed(2)),
    websockify_client_cpu_s_per_gib: Number(median(clientCpu.websockify).toFixed(2)),
  },
};
printTable('CPU-seconds per GiB carried (median / min / max)', ['path', 'median', 'min', 'max'], [
  row('relay + agent (ours)', cpu.ours),
  row('  the same, recording off', cpu.unrecorded),
  row('gateway + agent (ours, regional)', cpu.gateway),
  row('websockify (its connection\'s process + the listener)', cpu.websockify),
  row('the bench process sending to ours (client + sink)', clientCpu.ours),
  row('the bench process sending to websockify (client + sink)', clientCpu.websockify),
]);
printResult(result);
