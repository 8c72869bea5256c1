/**
 * discovery-scan: wall seconds for the agent's discovery scan of a 127.x /22
 * (1,024 addresses) holding N bmcsim BMCs (default 1,000, one bmcsim process,
 * IPMI on UDP 623 and Redfish on HTTPS 443 as root) and OpenIPMI's ipmi_sim
 * at one more address, against Debian's `nmap -sU -p 623` on the same range,
 * in the same run (taking turns, best of two each). Like for like, `ours` is
 * the agent's IPMI scan (Get Channel Auth Capabilities on UDP 623, then Get
 * System GUID and the ASF ping where IPMI answered), within its probes-per-second limit (the busiest second is
 * measured at each send); the full scan, IPMI and the Redfish service root
 * over HTTPS at every address, is measured once more in the same run
 * (`params.withRedfishSeconds`): a TLS handshake per BMC is what it costs.
 * `params.found` / `params.missed` compare ours with what is really there.
 *   npm run bench -- discovery-scan [--count 1000] [--pps 20000] [--concurrency 1024] [--timeout-ms 1000] [--runs 2]
 */
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { addressOf } from '@lightsout/bmcsim';
import { scanRanges } from '@lightsout/agent/discovery';
import { startIpmiSim } from '@lightsout/lab';
import { BMCSIM_UP, spawnBmcsim, stopProcess, untilOutput } from './lib/bmcsim-process.js';
import { printResult, printTable } from './lib/report.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, pps: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '1024' }, 'timeout-ms': { type: 'string', default: '1000' }, runs: { type: 'string', default: '2' } } });
const count = Number(values.count);
const pps = Number(values.pps);
const concurrency = Number(values.concurrency);
const timeoutMs = Number(values['timeout-ms']);
const runs = Number(values.runs);
if (!(count >= 1 && count <= 1000)) throw new Error('--count is 1..1000 (a /22 holds 1,022 probed addresses; one is ipmi_sim)');
const root = process.getuid?.() === 0;
// bmcsim's per-address ports: the standard ones as root.
const ports = root ? { ipmi: 623, web: 443 } : { ipmi: 20623, web: 8443 };
const range = '127.72.0.0/22';
const baseAddress = '127.72.0.1';
const bmcAddresses = Array.from({ length: count }, (_, index) => addressOf(baseAddress, index));
const ipmiSimAddress = '127.72.3.250';
const expected = new Set([...bmcAddresses, ipmiSimAddress]);

interface Outcome {
  seconds: number;
  found: Set<string>;
  probes?: number;
  busiestSecond?: number;
}

async function ours(protocols: Array<'ipmi' | 'redfish'> = ['ipmi'], probeTimeoutMs = timeoutMs): Promise<Outcome & { redfish?: number }> {
  const sends: number[] = [];
  const started = performance.now();
  const result = await scanRanges(
    { ranges: [range], protocols, ipmiPort: ports.ipmi, redfishPort: ports.web, probesPerSecond: pps, concurrency, timeoutMs: probeTimeoutMs, retries: 1 },
    { onProbe: () => sends.push(performance.now()) },
  );
  const seconds = (performance.now() - started) / 1000;
  let busiest = 0;
  for (let start = 0, end = 0; end < sends.length; end++) {
    while (sends[end]! - sends[start]! >= 1000) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  return { seconds, found: new Set(result.bmcs.map((bmc) => bmc.address)), probes: result.probes, busiestSecond: busiest, redfish: result.bmcs.filter((bmc) => bmc.redfish !== undefined).length };
}

/** Debian's nmap, as the issue names it: a UDP scan of port 623 over the range (-n: no reverse DNS for 1,024 loopback names). */
async function nmap(): Promise<Outcome> {
  const started = performance.now();
  const { stdout } = await run('nmap', ['-sU', '-p', String(ports.ipmi), '-n', '-oG', '-', range], { maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  const found = new Set<string>();
  for (const line of stdout.split('\n')) {
    const match = /^Host: (\S+) .*Ports: \d+\/open\//.exec(line);
    if (match !== null) found.add(match[1]!);
  }
  return { seconds, found };
}

const fleet = spawnBmcsim(['--count', String(count), '--base-address', baseAddress, '--quiet', '--agent-config', '/dev/null'], 'inherit');
const lab = await startIpmiSim({ address: ipmiSimAddress, lanPort: ports.ipmi, powered: false, plugin: false });
try {
  await untilOutput(fleet, BMCSIM_UP, 300_000);
  const oursRuns: Outcome[] = [];
  const nmapRuns: Outcome[] = [];
  for (let index = 0; index < runs; index++) {
    oursRuns.push(await ours());
    nmapRuns.push(await nmap());
  }
  // The full scan: a TLS handshake per BMC, on a loaded machine slower than one second each at times, hence the longer wait.
  const full = await ours(['ipmi', 'redfish'], Math.max(timeoutMs, 10_000));
  const best = (outcomes: Outcome[]) => outcomes.reduce((fastest, outcome) => (outcome.seconds < fastest.seconds ? outcome : fastest));
  const oursBest = best(oursRuns);
  const nmapBest = best(nmapRuns);
  const missed = (outcome: Outcome) => [...expected].filter((address) => !outcome.found.has(address)).length;
  const extra = (outcome: Outcome) => [...outcome.found].filter((address) => !expected.has(address)).length;
  console.log(`ours: ${oursRuns.map((outcome) => outcome.seconds.toFixed(2)).join(', ')} s; nmap: ${nmapRuns.map((outcome) => outcome.seconds.toFixed(2)).join(', ')} s`);
  printTable(`discovery of ${range}: ${count} bmcsim BMCs + ipmi_sim, wall time`, ['scanner', 'seconds', 'found', 'missed', 'not a BMC'], [
    [`lightsout IPMI (≤ ${pps} probes/s, ${concurrency} at once)`, oursBest.seconds, oursBest.found.size, missed(oursBest), extra(oursBest)],
    [`lightsout IPMI + Redfish service root (${full.redfish} over HTTPS)`, full.seconds, full.found.size, missed(full), extra(full)],
    [`nmap -sU -p ${ports.ipmi}`, nmapBest.seconds, nmapBest.found.size, missed(nmapBest), extra(nmapBest)],
  ]);
  printResult({
    bench: 'discovery-scan',
    metric: 'wall time to scan a /22 for BMCs',
    unit: 's',
    better: 'lower',
    ours: Math.round(oursBest.seconds * 1000) / 1000,
    baselines: { nmap: Math.round(nmapBest.seconds * 1000) / 1000 },
    params: {
      range,
      bmcs: expected.size,
      found: [...oursBest.found].filter((address) => expected.has(address)).length,
      missed: Math.max(...oursRuns.map(missed)),
      extra: Math.max(...oursRuns.map(extra)),
      pps,
      busiestSecond: Math.max(...oursRuns.map((outcome) => outcome.busiestSecond ?? 0)),
      probes: oursBest.probes ?? 0,
      concurrency,
      timeoutMs,
      withRedfishSeconds: Math.round(full.seconds * 1000) / 1000,
      withRedfishFound: full.redfish ?? 0,
      withRedfishMissed: missed(full) + (count - (full.redfish ?? 0)),
      withRedfishBusiestSecond: full.busiestSecond ?? 0,
      nmapFound: nmapBest.found.size,
      nmapMissed: missed(nmapBest),
      runs,
    },
  });
} finally {
  await lab.stop();
  await stopProcess(fleet);
}
