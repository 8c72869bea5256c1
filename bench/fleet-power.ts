/**
 * fleet-power: chassis power status of N simulated BMCs (bmcsim, default
 * 1,000, each on its own 127.x address, RMCP+ suite 17), wall time for all:
 *   ours     IPMI sessions from one process with bounded concurrency
 *            (open session → Get Chassis Status → Close Session per BMC);
 *   ipmipower  FreeIPMI's parallel power tool against the same N targets;
 *   ipmitool   sequential for 50 BMCs, extrapolated to N (labelled as such).
 * After one untimed pass, ours and ipmipower run twice each, alternating; best of two.
 *   npm run bench -- fleet-power [--count 1000] [--concurrency 128]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { addressOf } from '@lightsout/bmcsim';
import { ipmiCommands, openIpmiSession, SuiteCache } from '@lightsout/agent/ipmi';
import { BMCSIM_UP, spawnBmcsim, stopProcess, untilOutput } from './lib/bmcsim-process.js';
import { printResult, printTable } from './lib/report.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '128' } } });
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const baseAddress = '127.70.0.1';
const port = process.getuid?.() === 0 ? 623 : 20623; // bmcsim's per-address default ports
const hosts = Array.from({ length: count }, (_, index) => addressOf(baseAddress, index));

async function ours(): Promise<{ seconds: number; on: number; failed: number; cpuSeconds: number }> {
  const cpuBefore = process.cpuUsage();
  const suiteCache = new SuiteCache();
  let next = 0;
  let on = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < hosts.length) {
      const host = hosts[next++]!;
      try {
        // A status poll needs only USER privilege (least privilege, and no Set Session Privilege round trip).
        const session = await openIpmiSession({ host, port, username: 'admin', password: 'adminpass', privilege: 'user', suiteCache, timing: { handshakeTimeoutMs: 2000 } });
        try {
          if ((await ipmiCommands.powerState(session)) === 'on') on++;
        } finally {
          await session.close();
        }
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  return { seconds: (performance.now() - started) / 1000, on, failed, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function ipmipower(): Promise<{ seconds: number; on: number }> {
  const started = performance.now();
  const { stdout } = await run('ipmipower', ['-h', hosts.map((host) => `${host}:${port}`).join(','), '-u', 'admin', '-p', 'adminpass', '-D', 'LAN_2_0', '-I', '17', '--stat', '-F', String(Math.min(concurrency, 512))], { maxBuffer: 16 * 1024 * 1024 });
  return { seconds: (performance.now() - started) / 1000, on: stdout.split('\n').filter((line) => line.endsWith(': on')).length };
}

async function ipmitoolSequential(sample: number): Promise<{ seconds: number; on: number }> {
  const started = performance.now();
  let on = 0;
  for (const host of hosts.slice(0, sample)) {
    const { stdout } = await run('ipmitool', ['-I', 'lanplus', '-H', host, '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-C', '17', 'chassis', 'power', 'status']);
    if (stdout.includes('is on')) on++;
  }
  return { seconds: (performance.now() - started) / 1000, on };
}

const fleet = spawnBmcsim(['--count', String(count), '--base-address', baseAddress, '--http', '--quiet', '--agent-config', '/dev/null'], 'inherit');
try {
  await untilOutput(fleet, BMCSIM_UP, 300_000);
  // Each client twice, alternating, after one untimed pass: the simulator's own warm-up (JIT, first
  // session on each BMC) must not count against whoever happens to go first. Best of two each.
  await ours();
  const ipmipowerRuns = [await ipmipower()];
  const oursRuns = [await ours()];
  ipmipowerRuns.push(await ipmipower());
  oursRuns.push(await ours());
  const oursResult = oursRuns.reduce((best, result) => (result.seconds < best.seconds ? result : best));
  const ipmipowerResult = ipmipowerRuns.reduce((best, result) => (result.seconds < best.seconds ? result : best));
  console.log(`ours: ${oursRuns.map((result) => result.seconds.toFixed(2)).join(', ')} s; ipmipower: ${ipmipowerRuns.map((result) => result.seconds.toFixed(2)).join(', ')} s`);
  const sample = Math.min(50, count);
  const ipmitoolResult = await ipmitoolSequential(sample);
  const ipmitoolExtrapolated = (ipmitoolResult.seconds / sample) * count;
  console.log(`ours: ${oursResult.cpuSeconds.toFixed(2)} s of CPU in this process for ${count} sessions`);
  printTable(`chassis power status of ${count} bmcsim BMCs (suite 17), wall time`, ['client', 'seconds', 'BMCs reporting on', 'failed'], [
    [`lightsout (concurrency ${concurrency})`, oursResult.seconds, oursResult.on, oursResult.failed],
    [`ipmipower -F ${Math.min(concurrency, 512)}`, ipmipowerResult.seconds, ipmipowerResult.on, count - ipmipowerResult.on],
    [`ipmitool sequential, ${sample} measured → ×${count / sample} (extrapolated)`, ipmitoolExtrapolated, `${ipmitoolResult.on}/${sample}`, '-'],
  ]);
  printResult({
    bench: 'fleet-power',
    metric: 'wall time for chassis status of all BMCs',
    unit: 's',
    better: 'lower',
    ours: Math.round(oursResult.seconds * 1000) / 1000,
    baselines: { ipmipower: Math.round(ipmipowerResult.seconds * 1000) / 1000, ipmitool_sequential_extrapolated: Math.round(ipmitoolExtrapolated * 100) / 100 },
    params: { bmcs: count, concurrency, cipherSuite: 17, oursFailed: oursResult.failed, oursCpuSeconds: Math.round(oursResult.cpuSeconds * 100) / 100, ipmitoolSample: sample },
  });
} finally {
  await stopProcess(fleet);
}
