/**
 * relay-throughput: bulk bytes client WebSocket → relay → agent → TCP sink
 * (relay and agent are real processes), against the same bytes through
 * Debian's websockify (WebSocket → TCP) and straight over TCP, in one run.
 * Also, for scale, through two plain TCP forwarder processes
 * (lib/tcp-forwarder.ts): the same three loopback hops with nothing done in
 * the middle, what any two-process relay on this machine could reach at best.
 *   npm run bench -- relay-throughput [--mib 256] [--runs 3]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { type BenchResult, median, printResult, printTable } from './lib/report.js';
import { freeTcpPort } from '@lightsout/lab';
import { connect, createSession, flag, pump, startCountingSink } from './lib/stream-bench.js';
import { startStack } from './lib/stack.js';

const MIB = 1024 * 1024;
const totalBytes = flag('mib', 256) * MIB;
const runs = flag('runs', 3);
const chunk = Buffer.alloc(64 * 1024, 0x5a);

const sink = await startCountingSink();
const stack = await startStack([{ id: 'sink-01', serial: { url: `tcp://127.0.0.1:${sink.port}` } }]);
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
  await Promise.all([run(), sink.waitFor(totalBytes)]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return totalBytes / 1e6 / seconds;
}

async function ours(): Promise<number> {
  const session = await createSession(stack, 'sink-01');
  const client = await connect(session, { onData: () => {} });
  const rate = await timed(() => pump(client, totalBytes, chunk));
  client.close();
  return rate;
}

async function viaWebsockify(): Promise<number> {
  const socket = new WebSocket(`ws://127.0.0.1:${websockifyPort}/`, ['binary'], { perMessageDeflate: false });
  // websockify answers a close with status 1005 in the frame, which ws rightly calls invalid.
  socket.on('error', () => {});
  await once(socket, 'open');
  const rate = await timed(async () => {
    let sent = 0;
    // Same backpressure rule as our client: keep at most a few MiB in flight.
    while (sent < totalBytes) {
      while (socket.bufferedAmount > 4 * MIB) await new Promise((resolve) => setTimeout(resolve, 1));
      const length = Math.min(chunk.length, totalBytes - sent);
      socket.send(chunk.subarray(0, length));
      sent += length;
    }
  });
  socket.terminate();
  return rate;
}

/** Plain TCP to `port`: the sink itself (direct) or the first of the two forwarders. */
async function overTcp(port: number): Promise<number> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const rate = await timed(async () => {
    let sent = 0;
    while (sent < totalBytes) {
      const length = Math.min(chunk.length, totalBytes - sent);
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

const results = { ours: [] as number[], websockify: [] as number[], direct: [] as number[], forwarded: [] as number[] };
try {
  for (let run = 0; run < runs; run++) {
    results.ours.push(await ours());
    results.websockify.push(await viaWebsockify());
    results.direct.push(await overTcp(sink.port));
    results.forwarded.push(await overTcp(forwardedPort));
  }
} finally {
  websockify.kill('SIGTERM');
  for (const forwarder of forwarders) forwarder.stdin!.end();
  await stack.close();
  await sink.close();
}

const row = (name: string, values: number[]) => [name, median(values), Math.min(...values), Math.max(...values)];
printTable(`relay-throughput: ${totalBytes / MIB} MiB per run, ${runs} runs (MB/s, median / min / max)`, ['path', 'median', 'min', 'max'], [
  row('client WS → relay → agent → TCP (ours)', results.ours),
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
  params: { mib: totalBytes / MIB, runs },
};
printResult(result);
