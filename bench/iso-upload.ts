/**
 * iso-upload: one ISO from a client through the relay and the agent until the
 * BMC side has fetched all of it (the one action's data path: CLI hash + tus
 * upload → relay disk → agent pull over its data connection → agent cache →
 * signed HTTP → the simulated BMC's InsertMedia download), against a direct
 * `curl -T` upload of the same file to a local HTTP sink, and to a plain HTTP
 * server that writes it once to disk (the storing work without the rest), in
 * the same run.
 * Also the peak RSS growth of the relay and agent processes (VmHWM − RSS at
 * idle): the file must never be held whole in memory. The CLI is the one-file
 * bundle operators install (`npm run bundle -w @lightsout/cli`), built into
 * the run's directory first.
 *
 *   npm run bench -- iso-upload [--size-mib 1024]
 */
import { execFile } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleCli } from '@lightsout/cli/bundle';
import { type MediaState } from '@lightsout/shared';
import { printResult, printTable } from './lib/report.js';
import { type MediaStack, startMediaStack, writeIsoImage } from './lib/media-stack.js';
import { type Phase, PhaseClock, childrenCpuSeconds } from './lib/phase-clock.js';
import type { ChildProcessHandle } from './lib/processes.js';

const run = promisify(execFile);

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const sizeMib = argument('size-mib', 1024);
const size = Math.round(sizeMib * 1024 * 1024);

/**
 * Direct baselines: curl PUTs the file to a plain HTTP server that counts and
 * discards it (`curl`), or that writes it once to a new file on disk
 * (`curl-stored`: the storing work the path must do too, with nothing else).
 */
async function curlBaseline(file: string, storeAt?: string): Promise<number> {
  let received = 0;
  const sink = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (received += chunk.length));
    if (storeAt === undefined) {
      request.on('end', () => response.writeHead(204).end());
      return;
    }
    // Written once, as it arrives (backpressure through pipeline), and on disk before the answer.
    pipeline(request, createWriteStream(storeAt, { flags: 'wx', highWaterMark: 1024 * 1024 })).then(
      () => response.writeHead(201).end(),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const { port } = sink.address() as AddressInfo;
  try {
    const started = process.hrtime.bigint();
    await run('curl', ['-s', '-f', '-T', file, '-H', 'Expect:', `http://127.0.0.1:${port}/sink`], { maxBuffer: 1024 * 1024 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (received !== size) throw new Error(`sink received ${received} of ${size} bytes`);
    if (storeAt !== undefined && statSync(storeAt).size !== size) throw new Error(`the stored file holds ${statSync(storeAt).size} of ${size} bytes`);
    return size / 1e6 / seconds;
  } finally {
    sink.closeAllConnections();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    if (storeAt !== undefined) rmSync(storeAt, { force: true });
  }
}

/**
 * What storing the image once costs this machine: `size` bytes written to a
 * new file, 1 MiB per write (as the relay's upload store and the agent's
 * cache write), CPU seconds and wall seconds. The path needs one such copy
 * (the agent's cache; the relay keeps none), curl's sink none. On a
 * VM whose balloon driver hands free memory back to the host, the page cache
 * for new data is memory the host must fault in again, and that cost lands
 * here (docs/virtual-media.md, Benchmark).
 */
function newFileWrite(path: string): { seconds: number; cpuSeconds: number } {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const fd = openSync(path, 'wx');
  try {
    for (let offset = 0; offset < size; offset += block.length) writeSync(fd, block, 0, Math.min(block.length, size - offset));
  } finally {
    closeSync(fd);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  rmSync(path);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/**
 * The phases of one `media mount`, each named by the mark that ends it:
 * CLI start until it begins hashing; its SHA-256 pass; until the first byte
 * lands in the agent's cache file (upload creation, the mount request, the
 * agent's pull); the upload until the agent's file holds every byte; until
 * that file is verified and named `<sha256>.iso`; the mount until the BMC
 * begins reading; the BMC's read of all of it; and the rest until the CLI
 * exits. A phase that did not happen (no hashing pass) is absent.
 */
const PHASE_LABELS: Record<string, string> = {
  'cli-start': 'CLI start (until it reads the file)',
  hash: 'CLI SHA-256 pass',
  'first-byte': 'until the first byte is in the agent file',
  upload: 'upload into the agent file (all bytes written)',
  verify: 'until verified, named <sha256>.iso',
  'mount-request': 'until the BMC begins reading',
  'bmc-fetch': 'BMC fetch (all bytes)',
  finish: 'until the CLI exits',
};

async function timedMount(stack: MediaStack, file: string): Promise<{ result: { code: number | null; stderr: string }; phases: Phase[] }> {
  const cacheDirectory = join(stack.root, 'agent-state', 'media');
  const spawned: { cli?: ChildProcessHandle } = {};
  const clock = new PhaseClock({ cli: () => spawned.cli?.child.pid, relay: () => stack.relay.child.pid, agent: () => stack.agent.child.pid, bmcsim: 'self' });
  const childrenBefore = childrenCpuSeconds();
  clock.mark('spawn');
  clock.amend('spawn', 'cli', 0);
  const cli = stack.spawnCli(['media', 'mount', 'vm-01', file]);
  spawned.cli = cli;
  cli.child.stderr!.on('data', () => {
    // progress lines: `hashing [...] 0%` when its first MiB is read, `… 100%` when done
    const stderr = cli.stderr;
    if (/^hashing /m.test(stderr)) clock.mark('cli-start');
    if (/^hashing .*100%/m.test(stderr)) clock.mark('hash');
  });
  const onFetch = () => clock.mark('mount-request');
  const onInserted = () => clock.mark('bmc-fetch');
  stack.bmc.host.on('mediaFetch', onFetch);
  stack.bmc.host.on('mediaInserted', onInserted);
  // the agent's cache file, looked at every 10 ms: its first byte, all bytes, then its verified name
  const watcher = setInterval(() => {
    for (const entry of readdirSync(cacheDirectory, { withFileTypes: true })) {
      if (/\.iso$/.test(entry.name)) {
        clock.mark('first-byte');
        clock.mark('upload');
        clock.mark('verify');
      } else if (/\.upload-[0-9a-f]{32}\.part$/.test(entry.name)) {
        const bytes = statSync(join(cacheDirectory, entry.name), { throwIfNoEntry: false })?.size ?? 0;
        if (bytes > 0) clock.mark('first-byte');
        if (bytes === size) clock.mark('upload');
      }
    }
  }, 10);
  const timeout = setTimeout(() => cli.child.kill('SIGKILL'), 30 * 60_000);
  try {
    const { code } = await cli.exited;
    clock.mark('finish');
    clock.amend('finish', 'cli', childrenCpuSeconds() - childrenBefore);
    return { result: { code, stderr: cli.stderr }, phases: clock.phases() };
  } finally {
    clearTimeout(timeout);
    clearInterval(watcher);
    stack.bmc.host.off('mediaFetch', onFetch);
    stack.bmc.host.off('mediaInserted', onInserted);
  }
}

async function main(): Promise<void> {
  const cliDirectory = mkdtempSync(join(tmpdir(), 'lightsout-bench-cli-'));
  const cliBin = join(cliDirectory, 'lightsout.mjs');
  await bundleCli(cliBin);
  const stack = await startMediaStack({ agentEnv: { LIGHTSOUT_MEDIA_CACHE_BYTES: String(4 * size + 1024 ** 3) }, relayConfig: {}, cliBin });
  try {
    const file = join(stack.root, 'bench.iso');
    const { sha256 } = writeIsoImage(file, size);
    const curlMbps = await curlBaseline(file);
    const curlStoredMbps = await curlBaseline(file, join(stack.root, 'curl-stored.iso'));

    const idleRelay = stack.relay.memory();
    const idleAgent = stack.agent.memory();
    const started = process.hrtime.bigint();
    const { result, phases } = await timedMount(stack, file);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (result.code !== 0) throw new Error(`lightsout media mount failed: ${result.stderr}`);
    if (process.env['BENCH_VERBOSE']) console.error(result.stderr);
    const fetched = stack.bmc.host.virtualMedia?.bytes ?? 0;
    if (fetched !== size) throw new Error(`the BMC fetched ${fetched} of ${size} bytes`);
    const state = JSON.parse((await stack.cli(['media', 'status', 'vm-01', '--json'])).stdout) as MediaState;
    if (state.image?.sha256 !== sha256) throw new Error('mounted image has a different SHA-256');
    const relay = stack.relay.memory();
    const agent = stack.agent.memory();
    // Bytes of the image the relay stored (its upload store): none, the agent's cache is the one copy.
    const relayMedia = join(stack.root, 'relay-data', 'media');
    const relayStoredBytes = existsSync(relayMedia)
      ? readdirSync(relayMedia, { withFileTypes: true }).filter((entry) => entry.isFile() && /^[0-9a-f]{32}$/.test(entry.name)).reduce((total, entry) => total + statSync(join(relayMedia, entry.name)).size, 0)
      : 0;
    // After the mount, while the relay's and agent's copies still hold their page cache: a copy on top of those.
    const store = newFileWrite(join(stack.root, 'store-cost.bin'));
    const oursMbps = size / 1e6 / seconds;
    const relayGrowth = relay.peakRssMib - idleRelay.rssMib;
    const agentGrowth = agent.peakRssMib - idleAgent.rssMib;

    printTable(`iso-upload: ${sizeMib} MiB image, loopback, ${new Date().toISOString()}`, ['path', 'seconds', 'MB/s', 'ratio'], [
      ['lightsout: CLI hash + tus → relay → agent → BMC fetched all', seconds, oursMbps, oursMbps / curlMbps],
      ['curl -T to a local HTTP sink (direct)', size / 1e6 / curlMbps, curlMbps, 1],
      ['curl -T to a plain HTTP server writing the file once (curl-stored)', size / 1e6 / curlStoredMbps, curlStoredMbps, curlStoredMbps / curlMbps],
    ]);
    const processes = ['cli', 'relay', 'agent', 'bmcsim'] as const;
    const cpuOf = (phase: Phase, process: string) => phase.cpuSeconds[process] ?? 0;
    printTable('phases of the mount (CPU seconds per process: bmcsim is this process)', ['phase', 'wall s', ...processes.map((process) => `${process} CPU s`), 'CPU s'], [
      ...phases.map((phase) => [PHASE_LABELS[phase.name] ?? phase.name, phase.wallSeconds, ...processes.map((process) => cpuOf(phase, process)), processes.reduce((total, process) => total + cpuOf(phase, process), 0)]),
      ['all', seconds, ...processes.map((process) => phases.reduce((total, phase) => total + cpuOf(phase, process), 0)), phases.reduce((total, phase) => total + processes.reduce((sum, process) => sum + cpuOf(phase, process), 0), 0)],
    ]);
    printTable('storing the image once on this machine (the path keeps one copy: the agent cache)', ['new file, 1 MiB writes', 'seconds', 'CPU seconds'], [
      ['one process', store.seconds, store.cpuSeconds],
    ]);
    printTable('process memory (MiB)', ['process', 'RSS idle', 'peak RSS', 'growth'], [
      ['relay', idleRelay.rssMib, relay.peakRssMib, relayGrowth],
      ['agent', idleAgent.rssMib, agent.peakRssMib, agentGrowth],
    ]);
    printResult({
      bench: 'iso-upload',
      metric: 'throughput client → BMC fetched all',
      unit: 'MB/s',
      better: 'higher',
      ours: Number(oursMbps.toFixed(1)),
      baselines: { curl: Number(curlMbps.toFixed(1)), 'curl-stored': Number(curlStoredMbps.toFixed(1)) },
      params: {
        size_mib: sizeMib,
        seconds: Number(seconds.toFixed(2)),
        ratio_to_curl: Number((oursMbps / curlMbps).toFixed(3)),
        ratio_to_curl_stored: Number((oursMbps / curlStoredMbps).toFixed(3)),
        relay_rss_growth_mib: Number(relayGrowth.toFixed(1)),
        agent_rss_growth_mib: Number(agentGrowth.toFixed(1)),
        relay_peak_rss_mib: Number(relay.peakRssMib.toFixed(1)),
        agent_peak_rss_mib: Number(agent.peakRssMib.toFixed(1)),
        store_once_s: Number(store.seconds.toFixed(2)),
        store_once_cpu_s: Number(store.cpuSeconds.toFixed(2)),
        relay_stored_bytes: relayStoredBytes,
        // wall seconds of each phase, and the CPU seconds each process spent in it (docs/benchmarks.md, iso-upload)
        phases_s: Object.fromEntries(phases.map((phase) => [phase.name, Number(phase.wallSeconds.toFixed(3))])),
        phases_cpu_s: Object.fromEntries(phases.map((phase) => [phase.name, Object.fromEntries(processes.map((process) => [process, Number(cpuOf(phase, process).toFixed(3))]))])),
        cpu_s: Object.fromEntries(processes.map((process) => [process, Number(phases.reduce((total, phase) => total + cpuOf(phase, process), 0).toFixed(2))])),
        load_average_1m: Number(loadavg()[0]!.toFixed(2)),
      },
    });
  } finally {
    await stack.stop();
    rmSync(cliDirectory, { recursive: true, force: true });
  }
}

await main();
