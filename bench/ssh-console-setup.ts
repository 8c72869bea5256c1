/**
 * ssh-console-setup: milliseconds from starting a console client to the
 * first byte of console output, against the same BMC (OpenIPMI's ipmi_sim,
 * RMCP+ suite 3) in the same run, interleaved:
 *   ours      `ssh -tt lab-01@relay` (Debian's OpenSSH) → SSH front door →
 *             relay → agent → SOL on ipmi_sim
 *   ipmitool  `ipmitool -I lanplus -C 3 sol activate` straight to ipmi_sim
 * Both run in a pty (util-linux `script`), both include starting the client
 * process. The simulated host prints a byte every TICK_MS, so "first console
 * byte" is the first host byte after the client's own banner (ours: the
 * gateway's `~. to leave` line; ipmitool: "SOL Session operational").
 * Same run, a floor for the SSH part: the same ssh command against a bare
 * ssh2 server (Ed25519 host key, like ours) that accepts any key and answers
 * the shell request at once — the OpenSSH client and the handshake alone.
 *   npm run bench -- ssh-console-setup [--runs 10]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519Key } from '@lightsout/relay/testing';
import { parseArgs } from 'node:util';
import { startIpmiSim } from '@lightsout/lab';
import ssh2 from 'ssh2';
import { sshKeygen } from './lib/openssh.js';
import { median, percentile, printResult, printTable } from './lib/report.js';
import { spawnOnTty } from './lib/tty-client.js';
import { startStack } from './lib/stack.js';
import { freeTcpPort } from '@lightsout/lab';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Math.max(1, Number(values.runs));
const TICK_MS = 2;
const TICK = '.';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-bench-ssh-'));
const lab = await startIpmiSim();
const sshPort = await freeTcpPort();
const stack = await startStack([{ id: 'lab-01', ipmi: { host: lab.host, port: lab.port, credentials: 'lab-admin', cipherSuite: 3, privilege: 'administrator' } }], {
  relayConfig: { ssh: { port: sshPort } },
  agentEnv: { LAB_ADMIN_PASSWORD: 'adminpass' },
  agentCredentials: [{ id: 'lab-admin', username: 'admin', passwordEnv: 'LAB_ADMIN_PASSWORD' }],
});
let ticker: NodeJS.Timeout | undefined;

/** A bare SSH server: accepts any public key, prints a banner and one byte on the first shell. */
async function startSshFloor(): Promise<{ port: number; publicKey: string; close(): void }> {
  const hostKey = generateEd25519Key();
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (context) => (context.method === 'publickey' ? context.accept() : context.reject(['publickey'])));
    client.on('ready', () =>
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('pty', (accept) => accept?.());
        session.on('shell', (accept) => {
          const channel = accept();
          // Banner and byte on one stream, so they cannot pass each other; only the banner is timed.
          channel.stderr.write(`[floor banner]\r\n${TICK}`);
          channel.on('data', () => {
            channel.exit(0);
            channel.end();
          });
        });
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, publicKey: hostKey.public, close: () => void server.close() };
}
const floor = await startSshFloor();

/** Spawns `command` in a pty; resolves with ms from spawn to the first TICK after `banner` (and to the banner), then leaves with `\r~.`. */
async function timeToFirstByte(command: string, banner: string, what: string): Promise<{ firstByteMs: number; bannerMs: number }> {
  const started = performance.now();
  const client = spawnOnTty(command);
  const child = client.child;
  let output = '';
  try {
    let bannerMs = 0;
    return await new Promise<{ firstByteMs: number; bannerMs: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no console byte within 20 s: ${output.slice(-500)}`)), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('latin1');
        const at = output.indexOf(banner);
        if (at >= 0 && bannerMs === 0) bannerMs = performance.now() - started;
        if (at >= 0 && output.indexOf(TICK, at + banner.length) >= 0) {
          clearTimeout(timer);
          resolve({ firstByteMs: performance.now() - started, bannerMs });
        }
      });
      child.once('exit', () => reject(new Error(`${what} exited early: ${output.slice(-500)}`)));
    });
  } finally {
    await client.leave(5000);
  }
}

try {
  const key = sshKeygen(directory, 'bench');
  const added = await fetch(`${stack.relayUrl}/v1/me/ssh-keys`, { method: 'POST', headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ publicKey: key.publicKey }) });
  if (added.status !== 201) throw new Error(`could not register the key: ${added.status} ${await added.text()}`);
  const hostKey = (await (await fetch(`${stack.relayUrl}/v1/ssh/host-key`)).json()) as { publicKey: string };
  const knownHosts = join(directory, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${hostKey.publicKey}\n[127.0.0.1]:${floor.port} ${floor.publicKey}\n`);
  await lab.uart.waitForSolConnection(20_000).catch(() => undefined);
  ticker = setInterval(() => {
    try {
      lab.uart.write(TICK);
    } catch {
      // ipmi_sim's UART link is not up yet: the next tick tries again.
    }
  }, TICK_MS);
  const ssh = `ssh -F /dev/null -tt -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o LogLevel=ERROR -i ${key.privateKey} -p ${sshPort} lab-01@127.0.0.1`;
  const ipmitool = `ipmitool -I lanplus -H ${lab.host} -p ${lab.port} -U admin -P adminpass -C 3 sol activate`;
  const oursOnce = () => timeToFirstByte(ssh, '~. to leave', 'ssh');
  const floorOnce = () => timeToFirstByte(ssh.replace(`-p ${sshPort} lab-01@`, `-p ${floor.port} floor@`), '[floor banner]', 'ssh floor');
  // ipmi_sim has one SOL payload instance: a run that finds it still held by the previous client tries again
  // after a pause, untimed; from the third attempt on, the payload is deactivated first (`ipmitool sol
  // deactivate`, what a user does on "SOL payload already active").
  const retried = { ours: 0, ipmitool: 0 };
  const withRetry = async (once: () => Promise<{ firstByteMs: number; bannerMs: number }>, who: keyof typeof retried) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await once();
      } catch (error) {
        if (attempt >= 15) throw error;
        retried[who] += 1;
        if (attempt >= 2) spawnSync('ipmitool', ['-I', 'lanplus', '-H', lab.host, '-p', String(lab.port), '-U', 'admin', '-P', 'adminpass', '-C', '3', 'sol', 'deactivate'], { timeout: 5000, stdio: 'ignore' });
        process.stderr.write(`${who}: attempt ${attempt} failed (${(error as Error).message.split('\n')[0]}), retrying\n`);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  };
  const ipmitoolOnce = () => timeToFirstByte(ipmitool, 'SOL Session operational', 'ipmitool');
  // Warm-up, untimed: the agent learns the cipher suite and the SSH client's files are in the page cache.
  await withRetry(oursOnce, 'ours');
  await withRetry(ipmitoolOnce, 'ipmitool');
  const ours: number[] = [];
  const baseline: number[] = [];
  const oursBanner: number[] = [];
  const baselineBanner: number[] = [];
  const floorBanner: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const mine = await withRetry(oursOnce, 'ours');
    ours.push(mine.firstByteMs);
    oursBanner.push(mine.bannerMs);
    const theirs = await withRetry(ipmitoolOnce, 'ipmitool');
    baseline.push(theirs.firstByteMs);
    baselineBanner.push(theirs.bannerMs);
    floorBanner.push((await floorOnce()).bannerMs);
  }
  printTable(`first console byte on ipmi_sim, ${runs} runs each (ms)`, ['client', 'median', 'p90', 'min', 'max'], [
    ['ssh lab-01@relay (OpenSSH -tt → SSH front door → agent → SOL)', median(ours), percentile(ours, 90), Math.min(...ours), Math.max(...ours)],
    ['ipmitool -C 3 sol activate (pty)', median(baseline), percentile(baseline, 90), Math.min(...baseline), Math.max(...baseline)],
    ['  ours: to the gateway\'s banner', median(oursBanner), percentile(oursBanner, 90), Math.min(...oursBanner), Math.max(...oursBanner)],
    ['  ipmitool: to "SOL Session operational"', median(baselineBanner), percentile(baselineBanner, 90), Math.min(...baselineBanner), Math.max(...baselineBanner)],
    ['  floor: the same ssh to a bare ssh2 server, to its banner', median(floorBanner), percentile(floorBanner, 90), Math.min(...floorBanner), Math.max(...floorBanner)],
  ]);
  printResult({ bench: 'ssh-console-setup', metric: 'median ms from client start to first console byte', unit: 'ms', better: 'lower', ours: median(ours), baselines: { ipmitool: median(baseline) }, params: { runs, bmc: 'ipmi_sim', cipherSuite: 3, hostTickMs: TICK_MS, client: 'OpenSSH ssh -tt in a pty', oursP90: percentile(ours, 90), ipmitoolP90: percentile(baseline, 90), oursBannerMs: median(oursBanner), ipmitoolBannerMs: median(baselineBanner), sshFloorBannerMs: median(floorBanner), retried } });
} finally {
  if (ticker !== undefined) clearInterval(ticker);
  floor.close();
  await stack.close();
  await lab.stop();
  rmSync(directory, { recursive: true, force: true });
}
