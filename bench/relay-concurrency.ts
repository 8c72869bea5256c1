/**
 * relay-concurrency: open N concurrent console streams on one relay process
 * (relay and agent are real processes) and report the relay's RSS growth per
 * stream and how many failed to open.
 *   npm run bench -- relay-concurrency [--streams 9900] [--servers 100] [--batch 100]
 * Streams are spread round-robin over --servers consoles: a console tells
 * every viewer who joins, so 9,000 viewers of ONE console would measure an
 * O(n²) status fan-out no real NOC produces, not the per-stream cost.
 * Each stream holds two sockets at the relay (client + agent leg); with this
 * machine's hard limit of 20,000 descriptors per process, about 9,900 is the
 * ceiling for one relay process.
 */
import type { StreamClient } from '@lightsout/shared';
import { type BenchResult, printResult, printTable } from './lib/report.js';
import { connect, createSession, flag, rssKiB, startCountingSink } from './lib/stream-bench.js';
import { startStack } from './lib/stack.js';

const streams = flag('streams', 9900);
const batch = flag('batch', 100);
const serverCount = Math.max(1, Math.min(flag('servers', 100), streams));

const sink = await startCountingSink();
// Quiet consoles (one BMC connection each at the agent), all to one TCP sink.
const serverIds = Array.from({ length: serverCount }, (_, index) => `quiet-${String(index + 1).padStart(4, '0')}`);
const stack = await startStack(serverIds.map((id) => ({ id, serial: { url: `tcp://127.0.0.1:${sink.port}` } })));
const clients: StreamClient[] = [];
let failures = 0;
const failureReasons = new Map<string, number>();
try {
  const pid = stack.relayPid()!;
  // Warm up code paths (JIT, first-session allocations) before the baseline.
  const warm = await connect(await createSession(stack, serverIds[0]!), { onData: () => {} });
  warm.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssKiB(pid);
  const started = Date.now();
  for (let opened = 0; opened < streams; ) {
    const size = Math.min(batch, streams - opened);
    const results = await Promise.allSettled(
      Array.from({ length: size }, async (_, index) => connect(await createSession(stack, serverIds[(opened + index) % serverCount]!), { onData: () => {} }, 120_000)),
    );
    for (const result of results) {
      if (result.status === 'fulfilled') clients.push(result.value);
      else {
        failures += 1;
        const reason = String((result.reason as Error).message).slice(0, 80);
        failureReasons.set(reason, (failureReasons.get(reason) ?? 0) + 1);
      }
    }
    opened += size;
  }
  const openSeconds = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = rssKiB(pid);
  const perStream = (after - before) / Math.max(1, clients.length);
  printTable(`relay-concurrency: ${streams} streams requested`, ['measure', 'value'], [
    ['streams open', clients.length],
    ['failures', failures],
    ['relay RSS before (MiB)', before / 1024],
    ['relay RSS after (MiB)', after / 1024],
    ['KiB RSS per stream', perStream],
    ['seconds to open all', openSeconds],
  ]);
  for (const [reason, count] of failureReasons) console.log(`failure ×${count}: ${reason}`);
  const result: BenchResult = {
    bench: 'relay-concurrency',
    metric: 'relay RSS growth per open console stream',
    unit: 'KiB',
    better: 'lower',
    ours: Number(perStream.toFixed(1)),
    baselines: {},
    params: { streams, servers: serverCount, open: clients.length, failures, rssBeforeKiB: before, rssAfterKiB: after, openSeconds: Number(openSeconds.toFixed(1)) },
  };
  printResult(result);
} finally {
  for (const client of clients) if (client.state !== 'closed') client.close();
  await stack.close();
  await sink.close();
}
