// Preloaded into relay and agent processes by gateway-failover with LIGHTSOUT_BENCH_TRACE=1 (NODE_OPTIONS=--import): every 500 ms
// a window whose event-loop delay exceeded 50 ms is written to stderr as one JSON line (the bench counts them per second).
import { monitorEventLoopDelay } from 'node:perf_hooks';
const config = process.argv[process.argv.indexOf('--config') + 1] ?? '';
const role = /(relay-\d+|agent)\.json$/.exec(config)?.[1];
if (process.argv.includes('--config') && role !== undefined) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  setInterval(() => {
    const max = histogram.max / 1e6;
    if (max > 50) process.stderr.write(`${JSON.stringify({ looplag: role, time: Date.now(), maxMs: Math.round(max), p99Ms: Math.round(histogram.percentile(99) / 1e6) })}\n`);
    histogram.reset();
  }, 500).unref();
}
