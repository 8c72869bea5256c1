import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IPMI_SIM_USERS, ipmiSimConfig, type IpmiSimUser } from './ipmi-sim-config.js';
import { LabHostUart, type HostUart } from './ipmi-sim-uart.js';
import { freeTcpPort, freeUdpPort } from './ports.js';

const run = promisify(execFile);
const ASSETS = fileURLToPath(new URL('../assets/ipmi/', import.meta.url));

export interface IpmiSimOptions {
  /** Chassis power on at start (ipmi_sim `startnow`). Default true. */
  powered?: boolean;
  /** Build and load the project's plug-in (fixes two ipmi_sim SOL bugs). Default true. */
  plugin?: boolean;
  /** Host UART echoes input and prints banners. Default false (byte-exact tests). */
  shell?: boolean;
  /** Loopback address of the LAN channel (any of 127/8). Default 127.0.0.1. */
  address?: string;
  /** UDP port of the LAN channel. Default: a free one. */
  lanPort?: number;
}

export interface IpmiSimLab {
  host: string;
  /** UDP port of IPMI v1.5 / RMCP+ (channel 1). */
  port: number;
  users: readonly IpmiSimUser[];
  admin: IpmiSimUser;
  uart: HostUart;
  runDir: string;
  /** The ipmi_sim process (its host process is `uart.hostPid`). */
  pid: number;
  /** True when the SOL sequence part of the plug-in is active (OpenIPMI 2.0.33). */
  pluginLoaded: boolean;
  /** The ipmi_sim log so far (for failure messages). */
  log(): string;
  /** Stops ipmi_sim and the host process it started, removes the state dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts OpenIPMI's ipmi_sim on free loopback ports with a fresh state dir:
 * the UART and host-control servers first (ipmi_sim's SOL connects once and
 * retries only every 10 s), then ipmi_sim, then waits until it answers an
 * ASF ping, its SOL is connected and, if powered, the host has reported in.
 */
export async function startIpmiSim(options: IpmiSimOptions = {}): Promise<IpmiSimLab> {
  const runDir = await mkdtemp(join(tmpdir(), 'lightsout-ipmi-sim-'));
  const uart = new LabHostUart({ shell: options.shell ?? false });
  let child: ChildProcess | undefined;
  const stop = async () => {
    const leftover = await uart.stopHost();
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    if (leftover !== undefined) killQuietly(leftover);
    await uart.close();
    await rm(runDir, { recursive: true, force: true });
  };
  try {
    const { uartPort, controlPort } = await uart.listen();
    const address = options.address ?? '127.0.0.1';
    const [lanPort, vmPort] = [options.lanPort ?? (await freeUdpPort(address)), await freeTcpPort()];
    const pluginPath = options.plugin === false ? undefined : await buildPlugin(runDir);
    const name = 'lightsoutlab';
    await mkdir(join(runDir, 'state', 'ipmi_sim', name), { recursive: true });
    await run('sdrcomp', ['-o', join(runDir, 'state', 'ipmi_sim', name, 'sdr.20.main'), join(ASSETS, 'lab.sdrs')]);
    const startCommand = `${process.execPath} --no-warnings ${join(ASSETS, 'host.ts')} --vm-port ${vmPort} --control-port ${controlPort}`;
    const config = ipmiSimConfig({ name, address, lanPort, vmPort, uartPort, startCommand, poweredAtStart: options.powered ?? true, pluginPath: pluginPath?.path });
    await writeFile(join(runDir, 'lan.conf'), config);
    const logFd = openSync(join(runDir, 'ipmi_sim.log'), 'a');
    try {
      child = spawn('/usr/bin/ipmi_sim', ['-c', join(runDir, 'lan.conf'), '-f', join(ASSETS, 'lab.emu'), '-s', join(runDir, 'state'), '-n'], { cwd: runDir, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const exitedEarly = new Promise<never>((_, reject) => child!.once('exit', (code, signal) => reject(new Error(`ipmi_sim exited at start (${code ?? signal}): ${readLog(runDir)}`))));
    exitedEarly.catch(() => undefined);
    await Promise.race([Promise.all([waitForAsfPong(address, lanPort), uart.waitForSolConnection(), options.powered === false ? Promise.resolve() : uart.waitForPower('on')]), exitedEarly]);
    let stopped = false;
    return {
      host: address,
      port: lanPort,
      users: IPMI_SIM_USERS,
      admin: IPMI_SIM_USERS[0]!,
      uart,
      runDir,
      pid: child.pid!,
      pluginLoaded: pluginPath?.sequenceFix === true,
      log: () => readLog(runDir),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function buildPlugin(runDir: string): Promise<{ path: string; sequenceFix: boolean }> {
  const { stdout } = await run('dpkg-query', ['-W', '-f=${Version}', 'openipmi']).catch(() => ({ stdout: '' }));
  const sequenceFix = stdout.startsWith('2.0.33-');
  const path = join(runDir, 'lightsout_ipmi_sim_plugin.so');
  await run('gcc', ['-shared', '-fPIC', '-O2', '-Wall', ...(sequenceFix ? ['-DLIGHTSOUT_OPENIPMI_2_0_33'] : []), '-o', path, join(ASSETS, 'lightsout_ipmi_sim_plugin.c')]);
  return { path, sequenceFix };
}

/** Sends ASF presence pings (DMTF ASF 2.0 §3.2.4) until ipmi_sim answers; bounded by `timeoutMs`. */
async function waitForAsfPong(address: string, port: number, timeoutMs = 10_000): Promise<void> {
  const socket = createSocket('udp4');
  const ping = Uint8Array.of(0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00);
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => {
        clearInterval(resend);
        reject(new Error(`ipmi_sim did not answer an ASF ping on UDP ${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      // Resend on an interval: UDP to a not-yet-bound port is simply lost.
      const resend = setInterval(() => socket.send(ping, port, address), 50);
      socket.on('message', (message) => {
        if (message.length >= 9 && message[8] === 0x40) {
          clearTimeout(deadline);
          clearInterval(resend);
          resolve();
        }
      });
      socket.on('error', () => undefined);
      socket.send(ping, port, address);
    });
  } finally {
    socket.close();
  }
}

function readLog(runDir: string): string {
  try {
    return readFileSync(join(runDir, 'ipmi_sim.log'), 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
