import { describe, expect, it } from 'vitest';
import { runToCompletion } from '../lib/processes.js';
import type { BenchResult } from '../lib/report.js';

/**
 * Every stream-plane and media benchmark, run small through `bench/run.ts`
 * exactly as `npm run bench -- NAME` does: it must finish, and its last line
 * must be the JSON result the docs describe (docs/benchmarks.md), with
 * nothing failed. Figures are not asserted here: benchmarks measure, tests
 * check behaviour; this keeps the benchmarks runnable.
 */
async function runBench(name: string, args: string[], oursMayBeZeroOrLess = false): Promise<BenchResult> {
  const { code, stdout, stderr } = await runToCompletion(process.execPath, ['--import', 'tsx', 'bench/run.ts', name, ...args], process.env, 240_000);
  expect(code, `${name} exited with ${code}: ${stderr.slice(-2000)}`).toBe(0);
  const lines = stdout.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!) as BenchResult;
  expect(result).toMatchObject({ bench: name, better: expect.stringMatching(/^(higher|lower)$/) });
  if (!oursMayBeZeroOrLess) expect(result.ours).toBeGreaterThan(0);
  return result;
}

describe('benchmarks run and print their JSON result (reduced size)', { timeout: 300_000 }, () => {
  it('relay-throughput', async () => {
    const result = await runBench('relay-throughput', ['--mib', '16', '--runs', '1', '--warmup-mib', '4']);
    expect(result.unit).toBe('MB/s');
    expect(Object.keys(result.baselines).sort()).toEqual(['direct-tcp', 'tcp-two-forwarders', 'websockify']);
    // Through a gateway of the regional topology too, and what each path costs in CPU (clock ticks: at this size a few of them).
    expect(result.params['gateway']).toBeGreaterThan(0);
    // every path carried its warm-up first, untimed
    expect(result.params['warmup_mib']).toBe(4);
    for (const key of ['cpu_s_per_gib', 'gateway_cpu_s_per_gib', 'websockify_cpu_s_per_gib']) expect(result.params[key]).toBeGreaterThanOrEqual(0);
  });

  it('keystroke-latency', async () => {
    const result = await runBench('keystroke-latency', ['--idle', '20', '--busy', '3', '--samples', '30']);
    expect(result.unit).toBe('ms');
    expect(result.baselines['direct']).toBeGreaterThan(0);
    expect(result.baselines['websockify']).toBeGreaterThan(0);
    expect(result.params).toMatchObject({ idle: 20, busy: 3 });
    // How the tail is made: counts of samples past 2 ms (at most all 30) and the wall time the samples took.
    expect(result.params['over2ms']).toBeGreaterThanOrEqual(0);
    expect(result.params['over2ms']).toBeLessThanOrEqual(30);
    expect(result.params['websockifyOver2ms']).toBeLessThanOrEqual(30);
    expect(result.params['windowMs']).toBeGreaterThan(0);
    expect(result.params['websockifyWindowMs']).toBeGreaterThan(0);
  });

  it('relay-concurrency', async () => {
    const result = await runBench('relay-concurrency', ['--streams', '200', '--servers', '10', '--batch', '50']);
    expect(result.unit).toBe('KiB');
    expect(result.params).toMatchObject({ streams: 200, open: 200, failures: 0 });
  });

  it('sensor-sampling', async () => {
    const result = await runBench('sensor-sampling', ['--count', '20', '--interval-ms', '2000', '--passes', '1', '--full-sensors', '10']);
    expect(result.unit).toBe('MiB');
    expect(result.baselines['sampling-off']).toBeGreaterThan(0);
    expect(result.params, JSON.stringify(result.params)).toMatchObject({ bmcs: 20, failures: 0, history_servers: 20 });
    expect(result.params['reads']).toBeGreaterThanOrEqual(20);
    expect(result.params['full_history_mib_at_full_sensors']).toBeGreaterThan(0);
  });

  it('agent-scale', async () => {
    const result = await runBench('agent-scale', ['--count', '200', '--processes', '2', '--interval-ms', '2000', '--rounds', '1']);
    expect(result.unit).toBe('s');
    expect(result.baselines['ipmipower']).toBeGreaterThan(0);
    // Two short rounds may end between two scrapes of the agent's metrics: at least the one asked for.
    expect(result.params, JSON.stringify(result.params)).toMatchObject({ bmcs: 200, failures: 0, ipmipower_failures: 0 });
    expect(result.params['rounds']).toBeGreaterThanOrEqual(1);
    expect(result.params['cpu_pct']).toBeGreaterThan(0);
    expect(result.params['rss_mib']).toBeGreaterThan(0);
  });

  it('ssh-console-setup', async () => {
    const result = await runBench('ssh-console-setup', ['--runs', '1']);
    expect(result.unit).toBe('ms');
    expect(result.baselines['ipmitool']).toBeGreaterThan(0);
    expect(result.params).toMatchObject({ runs: 1, bmc: 'ipmi_sim' });
    expect(result.params['sshFloorBannerMs']).toBeGreaterThan(0);
  });

  it('bulk-power', async () => {
    const result = await runBench('bulk-power', ['--count', '20', '--concurrency', '8']);
    expect(result.unit).toBe('s');
    expect(result.baselines['ipmipower']).toBeGreaterThan(0);
    expect(result.params).toMatchObject({ servers: 20, failures: 0, ipmipowerFailures: 0 });
  });

  it('gateway-routing', async () => {
    const result = await runBench('gateway-routing', ['--requests', '20', '--warmup', '2']);
    expect(result.unit).toBe('ms');
    expect(result.baselines['owning']).toBeGreaterThan(0);
    expect(result.params).toMatchObject({ requests: 20, warmup: 2 });
  });

  it('gateway-failover', async () => {
    const result = await runBench('gateway-failover', ['--consoles', '5']);
    expect(result.unit).toBe('s');
    expect(result.params).toMatchObject({ consoles: 5, resumed: 5 });
    expect(result.params).toHaveProperty('lost');
  });

  it('soak', async () => {
    // Ours is a growth in %, which a short run's garbage collection can make negative.
    const result = await runBench('soak', ['--consoles', '10', '--minutes', '0.75', '--restart-every-s', '15'], true);
    expect(result.unit).toBe('%');
    expect(Number.isFinite(result.ours)).toBe(true);
    // Two kills of the gateway carrying the consoles: every session resumed on the other one, and
    // every keystroke the client accepted ran exactly once; what it refused while the path was down never ran.
    expect(result.params, JSON.stringify(result.params)).toMatchObject({ consoles: 10, restarts: 2, dropped: 0, bytes_lost: 0, bytes_repeated: 0, refused_but_run: 0 });
    expect(result.params['accepted']).toBeGreaterThan(0);
  });

  it('iso-upload', async () => {
    const result = await runBench('iso-upload', ['--size-mib', '32']);
    expect(result.unit).toBe('MB/s');
    expect(result.baselines['curl']).toBeGreaterThan(0);
    expect(result.baselines['curl-stored']).toBeGreaterThan(0);
    expect(result.params).toHaveProperty('relay_rss_growth_mib');
    expect(result.params).toHaveProperty('agent_rss_growth_mib');
    expect(result.params['store_once_cpu_s']).toBeGreaterThan(0);
  });
});
