/**
 * sol-setup: time from "open SOL" to an active SOL session on OpenIPMI's
 * ipmi_sim (RMCP+ suite 3), ours (IpmiDriver → SolHub.attach, which opens
 * its own session, activates the payload and resolves when active) vs
 * `ipmitool sol activate` under a pty (spawn → "SOL Session operational"),
 * interleaved in the same run. Median of RUNS (default 20) each.
 *   npm run bench -- sol-setup [runs]
 */
import { startIpmiSim } from '@lightsout/lab';
import { createIpmiDriver } from '@lightsout/agent/ipmi';
import { median, percentile, printResult, printTable } from './lib/report.js';
import { spawnOnTty } from './lib/tty-client.js';

const runs = Math.max(1, Number(process.argv[2] ?? 20));
const lab = await startIpmiSim();
const credentials = { username: 'admin', password: 'adminpass' };

async function oursOnce(): Promise<number> {
  const driver = createIpmiDriver({ host: lab.host, port: lab.port, credentials });
  try {
    const started = performance.now();
    const viewer = await driver.sol().attach('bench', { mode: 'control' }, { onData: () => undefined });
    const elapsed = performance.now() - started;
    viewer.detach();
    return elapsed;
  } finally {
    await driver.close();
  }
}

/** ipmitool needs a terminal for `sol activate`; util-linux `script` gives it one. Exits with "~." after a newline. */
async function ipmitoolOnce(): Promise<number> {
  const command = `ipmitool -I lanplus -H ${lab.host} -p ${lab.port} -U admin -P adminpass -C 3 sol activate`;
  const started = performance.now();
  const client = spawnOnTty(command);
  const child = client.child;
  let output = '';
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ipmitool did not become operational: ${output}`)), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('latin1');
        if (output.includes('SOL Session operational')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      child.once('exit', () => reject(new Error(`ipmitool exited early: ${output}`)));
    });
  } finally {
    await client.leave();
  }
}

try {
  const cold = await oursOnce(); // learns the suite (17 is refused by ipmi_sim → 3), as a long-running agent has
  await ipmitoolOnce();
  const ours: number[] = [];
  const ipmitool: number[] = [];
  for (let run = 0; run < runs; run++) {
    ours.push(await oursOnce());
    ipmitool.push(await ipmitoolOnce());
  }
  printTable(`SOL setup on ipmi_sim, ${runs} runs each (ms)`, ['client', 'median', 'p90', 'min', 'max'], [
    ['lightsout IpmiDriver.sol().attach', median(ours), percentile(ours, 90), Math.min(...ours), Math.max(...ours)],
    ['ipmitool -C 3 sol activate (pty)', median(ipmitool), percentile(ipmitool, 90), Math.min(...ipmitool), Math.max(...ipmitool)],
    ['lightsout, first attach (suite 17 tried first)', cold, cold, cold, cold],
  ]);
  printResult({ bench: 'sol-setup', metric: 'median time to active SOL', unit: 'ms', better: 'lower', ours: median(ours), baselines: { ipmitool: median(ipmitool) }, params: { runs, bmc: 'ipmi_sim 2.0.33', cipherSuite: 3, oursFirstAttachMs: Math.round(cold * 10) / 10 } });
} finally {
  await lab.stop();
}
