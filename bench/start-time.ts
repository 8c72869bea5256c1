/**
 * Start time of the relay and the agent: compiled (relay/dist, agent/dist, what
 * the packages ship and the repository's bin/ files start while current)
 * against the TypeScript sources through tsx (`LIGHTSOUT_FROM_SOURCE=1`), in
 * the same run, alternating.
 *
 *   npm run bench -- start-time [--runs 5] [--hogs 0]
 *
 * Wall seconds and the CPU seconds the process spent until then (the part
 * a busy machine does not change). Relay: from spawn to the first 200 of GET /readyz, on a data dir that
 * already exists (a restart: migrations done, demo accounts seeded). Agent:
 * seconds from spawn to the first 200 of its own GET /readyz (its control
 * channel to that relay is open), with the identity it enrolled on a first,
 * untimed start. `--hogs N` keeps N busy-looping processes on the CPUs
 * during the timed starts, as a loaded CI machine does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROGRAMS, buildProgram } from '@lightsout/scripts/build';
import { bundleIsCurrent } from '@lightsout/scripts/start-program';
import { REPO_ROOT } from './lib/processes.js';
import { cpuSeconds } from './lib/proc.js';
import { median, printResult, printTable } from './lib/report.js';
import { freeTcpPort } from '@lightsout/lab';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, hogs: { type: 'string', default: '0' } } });
const runs = Number(values.runs);
const hogCount = Number(values.hogs);

type Mode = 'compiled' | 'source';
const relayBin = join(REPO_ROOT, 'relay/bin/lightsout-relay.js');
const agentBin = join(REPO_ROOT, 'agent/bin/lightsout-agent.js');
const PASSWORD = 'start-time-password';

for (const program of [PROGRAMS.relay, PROGRAMS.agent]) if (!bundleIsCurrent(program.outfile)) await buildProgram(program);

const directory = mkdtempSync(join(tmpdir(), 'lightsout-start-time-'));
const owned = new Set<ChildProcess>();
const hogs: ChildProcess[] = [];

/** Spawns through the bin/ file: compiled while current (checked above), the sources when forced. */
function start(bin: string, config: string, mode: Mode): ChildProcess {
  const child = spawn(process.execPath, [bin, '--config', config], {
    env: { ...process.env, LIGHTSOUT_DEMO_PASSWORD: PASSWORD, LIGHTSOUT_FROM_SOURCE: mode === 'source' ? '1' : '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  child.once('exit', (code) => {
    owned.delete(child);
    if (code !== 0 && code !== null) console.error(`${bin} exited ${code}: ${stderr}`);
  });
  owned.add(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Wall seconds until `url` answers 200 and the CPU seconds spent until then, polling every 20 ms; fails when the process exits first or after 300 s. */
async function untilReady(child: ChildProcess, url: string, started: number): Promise<{ wall: number; cpu: number }> {
  const deadline = started + 300_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited ${child.exitCode} before it was ready`);
    if (await fetch(url).then((response) => response.status === 200, () => false)) return { wall: (performance.now() - started) / 1000, cpu: cpuSeconds(child.pid!) };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url}: not ready within 300 s`);
}

try {
  const relayPort = await freeTcpPort();
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const relayConfig = join(directory, 'relay.json');
  writeFileSync(relayConfig, JSON.stringify({ listen: { host: '127.0.0.1', port: relayPort }, dataDir: join(directory, 'relay-data'), webRoot: join(directory, 'no-web'), logLevel: 'warn' }));

  // First start (untimed): creates the store and seeds it, then mints the agent's join token.
  let relay = start(relayBin, relayConfig, 'compiled');
  await untilReady(relay, `${relayUrl}/readyz`, performance.now());
  const minted = spawn(process.execPath, [relayBin, 'join-token', 'create', '--region', 'eu', '--datacenter', 'fra1', '--config', relayConfig, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let mintedText = '';
  minted.stdout!.setEncoding('utf8').on('data', (chunk: string) => (mintedText += chunk));
  await once(minted, 'exit');
  const joinToken = (JSON.parse(mintedText) as { token: string }).token;

  const agentPort = await freeTcpPort();
  const stateDir = join(directory, 'agent-state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const agentConfig = join(directory, 'agent.json');
  writeFileSync(agentConfig, JSON.stringify({ relay: relayUrl, name: 'start-time', stateDir, joinToken, log: { level: 'warn' }, metrics: { listen: `127.0.0.1:${agentPort}` }, servers: [] }));
  const agentReady = `http://127.0.0.1:${agentPort}/readyz`;
  // First agent start (untimed): enrols with the token; later starts use the stored identity.
  const enrolling = start(agentBin, agentConfig, 'compiled');
  await untilReady(enrolling, agentReady, performance.now());
  await stop(enrolling);

  // The hogs start after the untimed first starts: seeding the store is not what is measured.
  for (let index = 0; index < hogCount; index += 1) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  const relaySeconds: Record<Mode, number[]> = { compiled: [], source: [] };
  const agentSeconds: Record<Mode, number[]> = { compiled: [], source: [] };
  const relayCpu: Record<Mode, number[]> = { compiled: [], source: [] };
  const agentCpu: Record<Mode, number[]> = { compiled: [], source: [] };
  const loads: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    for (const mode of ['source', 'compiled'] as const) {
      await stop(relay);
      let started = performance.now();
      relay = start(relayBin, relayConfig, mode);
      const relayReady = await untilReady(relay, `${relayUrl}/readyz`, started);
      relaySeconds[mode].push(relayReady.wall);
      relayCpu[mode].push(relayReady.cpu);
      started = performance.now();
      const agent = start(agentBin, agentConfig, mode);
      const agentReadyAt = await untilReady(agent, agentReady, started);
      agentSeconds[mode].push(agentReadyAt.wall);
      agentCpu[mode].push(agentReadyAt.cpu);
      await stop(agent);
      loads.push(loadavg()[0]!);
    }
  }
  await stop(relay);

  const row = (name: string, seconds: Record<Mode, number[]>, cpu: Record<Mode, number[]>) => [name, median(seconds.source), median(seconds.compiled), median(seconds.source) / median(seconds.compiled), median(cpu.source), median(cpu.compiled)];
  printTable(`start to /readyz (median of ${runs}, ${hogCount} CPU hogs, load ${median(loads).toFixed(1)})`, ['program', 'wall s, tsx sources', 'wall s, compiled', 'speed-up', 'CPU s, tsx sources', 'CPU s, compiled'], [row('relay', relaySeconds, relayCpu), row('agent', agentSeconds, agentCpu)]);
  printResult({
    bench: 'start-time',
    metric: 'relay start to /readyz, compiled (median)',
    unit: 's',
    better: 'lower',
    ours: median(relaySeconds.compiled),
    baselines: { 'relay-tsx-sources': median(relaySeconds.source), 'agent-compiled': median(agentSeconds.compiled), 'agent-tsx-sources': median(agentSeconds.source) },
    params: { runs, hogs: hogCount, cpus: availableParallelism(), load1: Number(median(loads).toFixed(1)), relay: relaySeconds, agent: agentSeconds, relay_cpu_s: relayCpu, agent_cpu_s: agentCpu },
  });
} finally {
  for (const child of [...owned]) child.kill('SIGKILL');
  for (const hog of hogs) hog.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
}
