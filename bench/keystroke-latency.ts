/**
 * keystroke-latency: 1-byte echo round trip through client → relay → agent →
 * TCP echo and back, while `idle` streams sit open and `busy` streams push
 * bulk data through the same relay; against the same echo over direct TCP,
 * sampled alternately under the same load.
 * Then the peer under the same load: the same echo through Debian's
 * websockify (the standard WebSocket → TCP bridge) while the same `idle` and
 * `busy` connections run through it, alternating with direct TCP again — so
 * the figure says whether a user would type faster through the standard bridge.
 * The idle and busy streams' clients and their sink run in a separate,
 * low-priority process (lib/bulk-load.ts): other users' machines, not this one's.
 * websockify's listener waits in select(), which takes no descriptor past
 * 1,023 (FD_SETSIZE), and it holds about two per connection: past ~500
 * connections it spins and accepts nothing more. So its load is spread over
 * one listener per WEBSOCKIFY_CONNECTIONS (the same token file each), as a
 * deployment of it would be; the probe goes through the first.
 *   npm run bench -- keystroke-latency [--idle 1000] [--busy 50] [--samples 500]
 */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import type { StreamClient } from '@lightsout/shared';
import { startWebsockify, websockifyTokenUrl } from '@lightsout/lab';
import WebSocket from 'ws';
import { startEchoServer } from '@lightsout/integration/bmc-peers';
import { type BenchResult, percentile, printResult, printTable } from './lib/report.js';
import { startBulkLoad } from './lib/bulk-load.js';
import { connect, createSession, flag } from './lib/stream-bench.js';
import { startStack } from './lib/stack.js';

/** Connections one websockify listener is given (its select() limit is ~500). */
const WEBSOCKIFY_CONNECTIONS = 400;

const idle = flag('idle', 1000);
const busy = flag('busy', 50);
const samples = flag('samples', 500);

const echo = await startEchoServer();
let load = await startBulkLoad();
const busyServers = Array.from({ length: busy }, (_, index) => ({ id: `busy-${String(index).padStart(3, '0')}`, serial: { url: `tcp://127.0.0.1:${load.sinkPort}` } }));
const stack = await startStack([
  { id: 'echo-01', serial: { url: `tcp://127.0.0.1:${echo.port}` } },
  // Idle streams share one quiet console (a sink that never answers).
  { id: 'idle-01', serial: { url: `tcp://127.0.0.1:${load.sinkPort}` } },
  ...busyServers,
]);

const clients: StreamClient[] = [];

/** One echo path: a byte goes out, the round trip ends when any data comes back. */
interface Probe {
  send(bytes: Buffer): void;
  pending?: { started: bigint; resolve(ms: number): void };
}
const probeKey = Buffer.from('k');
const roundTrip = (probe: Probe) =>
  new Promise<number>((resolve) => {
    probe.pending = { started: process.hrtime.bigint(), resolve };
    probe.send(probeKey);
  });
function probeDone(probe: Probe): void {
  const pending = probe.pending;
  probe.pending = undefined;
  pending?.resolve(Number(process.hrtime.bigint() - pending.started) / 1e6);
}

try {
  await load.idle(stack.relayUrl, stack.operatorToken, 'idle-01', idle);
  // Busy streams: each pushes 64 KiB chunks as fast as its window allows, until the probe is done.
  await load.start(stack.relayUrl, stack.operatorToken, busyServers.map((server) => server.id));

  // Two probes, one byte out and wait for it to come back: through the chain,
  // and straight to the same echo over TCP. Their samples alternate, so both
  // see the same load (on two shared cores the OS's own wake-up delay under
  // load is several milliseconds at p99, and it would be unfair to charge
  // that to one side only).
  const chain = await connect(await createSession(stack, 'echo-01'), { onData: () => probeDone(chainProbe) });
  clients.push(chain);
  const socket = tcpConnect({ host: '127.0.0.1', port: echo.port, noDelay: true });
  await once(socket, 'connect');
  socket.on('data', () => probeDone(directProbe));
  const chainProbe: Probe = { send: (bytes) => chain.write(bytes) };
  const directProbe: Probe = { send: (bytes) => void socket.write(bytes) };
  const ours: number[] = [];
  const direct: number[] = [];
  const oursStarted = performance.now();
  for (let index = 0; index < samples; index++) {
    ours.push(await roundTrip(chainProbe));
    direct.push(await roundTrip(directProbe));
  }
  const oursWindowMs = performance.now() - oursStarted;
  await load.stop();
  chain.close();
  // Ours now, so a failure of the peer's phase does not lose it.
  printTable(`keystroke-latency, ours: ${samples} one-byte echoes; ${idle} idle + ${busy} busy streams open on the relay (ms)`, ['path', 'p50', 'p99', 'max'], [
    ['client → relay → agent → echo (ours)', percentile(ours, 50), percentile(ours, 99), Math.max(...ours)],
    ['direct TCP echo (same load)', percentile(direct, 50), percentile(direct, 99), Math.max(...direct)],
  ]);

  // The peer, loaded the same way: a fresh load process whose idle and busy connections go through websockify.
  load = await startBulkLoad();
  const listeners = Math.max(1, Math.ceil((idle + busy + 1) / WEBSOCKIFY_CONNECTIONS));
  const bridges = await Promise.all(Array.from({ length: listeners }, () => startWebsockify({ tokens: { echo: { host: '127.0.0.1', port: echo.port }, sink: { host: '127.0.0.1', port: load.sinkPort } } })));
  const websockify: number[] = [];
  const directBeside: number[] = [];
  let websockifyWindowMs = 0;
  try {
    // The same idle and busy connections, an equal share through each listener.
    for (const [index, bridge] of bridges.entries()) {
      const share = (total: number) => Math.floor(total / listeners) + (index < total % listeners ? 1 : 0);
      await load.raw(websockifyTokenUrl(bridge, 'sink'), share(idle), share(busy));
    }
    const bridged = new WebSocket(websockifyTokenUrl(bridges[0]!, 'echo'), ['binary'], { perMessageDeflate: false });
    // websockify answers a close with status 1005 in the frame, which ws rightly calls invalid.
    bridged.on('error', () => {});
    await once(bridged, 'open');
    const bridgedProbe: Probe = { send: (bytes) => bridged.send(bytes) };
    bridged.on('message', () => probeDone(bridgedProbe));
    const websockifyStarted = performance.now();
    for (let index = 0; index < samples; index++) {
      websockify.push(await roundTrip(bridgedProbe));
      directBeside.push(await roundTrip(directProbe));
    }
    websockifyWindowMs = performance.now() - websockifyStarted;
    bridged.terminate();
    await load.stop();
  } finally {
    await Promise.all(bridges.map((bridge) => bridge.stop()));
  }
  socket.destroy();

  printTable(`keystroke-latency: ${samples} one-byte echoes; ${idle} idle + ${busy} busy streams open on the relay (ms)`, ['path', 'p50', 'p99', 'max'], [
    ['client → relay → agent → echo (ours)', percentile(ours, 50), percentile(ours, 99), Math.max(...ours)],
    ['direct TCP echo (same load)', percentile(direct, 50), percentile(direct, 99), Math.max(...direct)],
    [`client → websockify → echo, ${idle} idle + ${busy} busy through websockify (${listeners} listener${listeners === 1 ? '' : 's'})`, percentile(websockify, 50), percentile(websockify, 99), Math.max(...websockify)],
    ['direct TCP echo (websockify\'s load)', percentile(directBeside, 50), percentile(directBeside, 99), Math.max(...directBeside)],
  ]);
  const result: BenchResult = {
    bench: 'keystroke-latency',
    metric: 'p99 one-byte echo round trip through the full chain',
    unit: 'ms',
    better: 'lower',
    ours: Number(percentile(ours, 99).toFixed(2)),
    baselines: { direct: Number(percentile(direct, 99).toFixed(2)), websockify: Number(percentile(websockify, 99).toFixed(2)) },
    params: {
      idle,
      busy,
      samples,
      p50: Number(percentile(ours, 50).toFixed(2)),
      directP50: Number(percentile(direct, 50).toFixed(2)),
      websockifyP50: Number(percentile(websockify, 50).toFixed(2)),
      directBesideWebsockifyP99: Number(percentile(directBeside, 99).toFixed(2)),
      websockifyListeners: listeners,
      // How the tail is made: the samples past the goal's 2 ms, and the wall time all the samples took.
      over2ms: ours.filter((ms) => ms > 2).length,
      websockifyOver2ms: websockify.filter((ms) => ms > 2).length,
      windowMs: Math.round(oursWindowMs),
      websockifyWindowMs: Math.round(websockifyWindowMs),
    },
  };
  printResult(result);
} finally {
  await load.stop();
  for (const client of clients) if (client.state !== 'closed') client.close();
  await stack.close();
  await echo.close();
}
