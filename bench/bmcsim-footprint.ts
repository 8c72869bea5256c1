/**
 * bmcsim footprint: RSS and CPU of one process simulating N idle BMCs
 * (default 1,000, each on its own 127.x address with IPMI, Redfish/HTTPS,
 * /console0, /kvm/0 and RFB listening), against two baselines measured in the
 * same run: a bare idle Node process (the runtime floor) and one OpenIPMI
 * ipmi_sim (one real simulated BMC, without its host processes). The per-BMC
 * figure is (RSS with N − RSS with 1) / (N − 1): the runtime and code are paid once.
 *
 *   npm run bench -- bmcsim-footprint [--count 1000] [--idle-seconds 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addressOf } from '@lightsout/bmcsim';
import { startIpmiSim } from '@lightsout/lab';
import { BMCSIM_UP, spawnBmcsim, stopProcess, untilOutput } from './lib/bmcsim-process.js';
import { cpuSeconds } from './lib/proc.js';
import { printResult, printTable } from './lib/report.js';
import { rssKiB } from './lib/stream-bench.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, 'idle-seconds': { type: 'string', default: '10' } } });
const count = Number(values.count);
const idleSeconds = Number(values['idle-seconds']);

interface Sample {
  rssKib: number;
  cpuSeconds: number;
  fds: number;
}

function sample(pid: number): Sample {
  return { rssKib: rssKiB(pid), cpuSeconds: cpuSeconds(pid), fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** RSS now and CPU % over an idle window (the window is the measurement itself). */
async function idleFootprint(pid: number): Promise<{ rssKib: number; cpuPercent: number; fds: number }> {
  const before = sample(pid);
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const after = sample(pid);
  return { rssKib: after.rssKib, cpuPercent: ((after.cpuSeconds - before.cpuSeconds) / idleSeconds) * 100, fds: after.fds };
}

const directory = await mkdtemp(join(tmpdir(), 'bmcsim-footprint-'));
const children: ChildProcess[] = [];
try {
  // Baseline 1: the Node runtime floor.
  const floor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30); console.log("ready")'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(floor);
  await untilOutput(floor, /ready/, 10_000, 'node');
  const floorFootprint = await idleFootprint(floor.pid!);
  await stopProcess(floor);

  // Baseline 2: one ipmi_sim (one real simulated BMC).
  const ipmiSim = await startIpmiSim({ powered: true });
  let ipmiSimRssKib = NaN;
  try {
    const pid = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).find((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').startsWith('/usr/bin/ipmi_sim') && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(ipmiSim.runDir);
      } catch {
        return false;
      }
    });
    if (pid) ipmiSimRssKib = sample(Number(pid)).rssKib;
  } finally {
    await ipmiSim.stop();
  }

  // The same process with one BMC: what N BMCs add on top is the per-BMC cost.
  const single = spawnBmcsim(['--count', '1', '--base-address', '127.49.0.1', '--quiet', '--agent-config', join(directory, 'single.yaml')], 'inherit');
  children.push(single);
  await untilOutput(single, BMCSIM_UP, 60_000);
  const singleFootprint = await idleFootprint(single.pid!);
  await stopProcess(single);

  // Ours: N BMCs in one process.
  const started = performance.now();
  const fleet = spawnBmcsim(['--count', String(count), '--base-address', '127.50.0.1', '--quiet', '--agent-config', join(directory, 'agent.yaml')], 'inherit');
  children.push(fleet);
  await untilOutput(fleet, BMCSIM_UP, 300_000);
  const startupMs = performance.now() - started;
  // Prove the last BMC answers before calling the fleet idle.
  const lastAddress = addressOf('127.50.0.1', count - 1);
  const ipmitool = spawn('ipmitool', ['-I', 'lanplus', '-H', lastAddress, '-U', 'admin', '-P', 'adminpass', '-C', '17', 'chassis', 'power', 'status'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const answer = await untilOutput(ipmitool, /Chassis Power is (on|off)/, 20_000, 'ipmitool');
  const fleetFootprint = await idleFootprint(fleet.pid!);
  await stopProcess(fleet);

  const perBmcKib = (fleetFootprint.rssKib - singleFootprint.rssKib) / Math.max(1, count - 1);
  printTable(`bmcsim footprint: ${count} idle BMCs in one process (idle window ${idleSeconds} s)`, ['process', 'RSS MiB', 'RSS per BMC KiB', 'CPU % (one core)', 'open fds'], [
    [`bmcsim --count ${count}`, fleetFootprint.rssKib / 1024, perBmcKib, fleetFootprint.cpuPercent, fleetFootprint.fds],
    ['bmcsim --count 1', singleFootprint.rssKib / 1024, '-', singleFootprint.cpuPercent, singleFootprint.fds],
    ['idle node (floor)', floorFootprint.rssKib / 1024, '-', floorFootprint.cpuPercent, floorFootprint.fds],
    ['ipmi_sim (1 BMC)', ipmiSimRssKib / 1024, ipmiSimRssKib, '-', '-'],
  ]);
  console.log(`startup: ${Math.round(startupMs)} ms for ${count} BMCs; last BMC (${lastAddress}) answered "${answer}"`);
  printResult({
    bench: 'bmcsim-footprint',
    metric: 'rss_per_idle_bmc',
    unit: 'KiB',
    better: 'lower',
    ours: Math.round(perBmcKib * 10) / 10,
    baselines: { ipmi_sim_one_bmc: ipmiSimRssKib },
    params: { count, idleSeconds, fleetRssMiB: Math.round(fleetFootprint.rssKib / 102.4) / 10, fleetCpuPercent: Math.round(fleetFootprint.cpuPercent * 100) / 100, nodeFloorRssMiB: Math.round(floorFootprint.rssKib / 102.4) / 10, singleBmcRssMiB: Math.round(singleFootprint.rssKib / 102.4) / 10, startupMs: Math.round(startupMs), fds: fleetFootprint.fds },
  });
} finally {
  for (const child of children) await stopProcess(child);
  await rm(directory, { recursive: true, force: true });
}
