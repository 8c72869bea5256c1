import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from './ports.js';
import { reserveDisplay, type DisplayReservation } from './vnc-display.js';
import { type PeerProcess, runToCompletion, spawnPeer, waitForOutput } from './vnc-process.js';

/** The root window colour every VNC peer shows, so tests can check real pixels. */
export const VNC_ROOT_COLOUR = '#2a6f97';

const WARMUP_SCRIPT = fileURLToPath(new URL('../assets/vnc/rfb-warmup.py', import.meta.url));
const DEBIAN_PYTHON = '/usr/bin/python3';
const START_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 3;

export interface VncServerOptions {
  /** VNC password (only the first 8 characters count). Omit for security type None. */
  password?: string;
  width?: number;
  height?: number;
  /** `#rrggbb` root colour; default VNC_ROOT_COLOUR. */
  rootColour?: string;
}

export interface X11vncOptions extends VncServerOptions {
  /** Advertise an older protocol version (x11vnc -rfbversion), e.g. "3.3" or "3.7". Default 3.8. */
  rfbVersion?: '3.3' | '3.7' | '3.8';
}

/** A running VNC server on 127.0.0.1 with its own X display and temp dir. */
export interface VncPeer {
  readonly kind: 'x11vnc' | 'xvnc';
  readonly host: string;
  readonly port: number;
  /** `vnc://127.0.0.1:<port>` */
  readonly url: string;
  readonly display: number;
  readonly password: string | undefined;
  readonly rootColour: string;
  readonly width: number;
  readonly height: number;
  /** The processes this peer runs (X server and VNC server), for diagnostics and tests. */
  readonly pids: readonly number[];
  /** The peer's own temp dir (password files), removed by stop(). */
  readonly directory: string;
  /** Stops exactly the processes this peer started, releases its display and removes its temp dir. */
  stop(): Promise<void>;
}

interface Cleanup {
  processes: PeerProcess[];
  reservation: DisplayReservation | undefined;
  directory: string;
}

async function cleanUp(cleanup: Cleanup): Promise<void> {
  // Reverse start order: the VNC server before the X server it reads.
  for (const peer of [...cleanup.processes].reverse()) await peer.stop();
  await cleanup.reservation?.release();
  await rm(cleanup.directory, { recursive: true, force: true });
}

/** Reads the display number an X server writes to -displayfd once it accepts clients. */
async function waitForDisplayFd(server: PeerProcess): Promise<void> {
  const displayFd = server.child.stdio[3] as Readable;
  await waitForOutput(server, displayFd, (text) => text.includes('\n'), START_TIMEOUT_MS);
}

async function setRootColour(display: number, colour: string): Promise<void> {
  await runToCompletion('xsetroot', 'xsetroot', ['-solid', colour], { env: { ...process.env, DISPLAY: `:${display}` } });
}

/**
 * Reserves a display, starts an X server on it and waits until it is ready.
 * A server that dies first (another X server took the number despite the
 * lock) is retried on a fresh number, a bounded number of times.
 */
async function withFreshDisplay(cleanup: Cleanup, start: (reservation: DisplayReservation) => PeerProcess): Promise<number> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const reservation = await reserveDisplay();
    const server = start(reservation);
    try {
      await reservation.adopt(server.pid);
      await waitForDisplayFd(server);
      cleanup.reservation = reservation;
      cleanup.processes.push(server);
      return reservation.display;
    } catch (error) {
      lastError = error;
      await server.stop();
      await reservation.release();
    }
  }
  throw lastError;
}

/** Asks frames until pixel (1,1) shows the root colour (x11vnc's first frame is black). */
async function warmUp(port: number, colour: string, passwordFile: string | undefined): Promise<void> {
  const args = [WARMUP_SCRIPT, '--port', String(port), '--colour', colour.replace('#', ''), '--timeout', String(START_TIMEOUT_MS / 1000)];
  if (passwordFile) args.push('--password-file', passwordFile);
  await runToCompletion('rfb-warmup', DEBIAN_PYTHON, args, { timeoutMs: START_TIMEOUT_MS + 5000 });
}

/**
 * Retries `start` on a new free port when the server dies before it is ready:
 * freeTcpPort releases the port before the server binds it, so a parallel
 * test can take it in between.
 */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      return await start(await freeTcpPort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * Xvfb + x11vnc (libvncserver, the same library as OpenBMC's obmc-ikvm),
 * RFB 3.8 with security None, or VNC authentication when `password` is set.
 */
export async function startX11vnc(options: X11vncOptions = {}): Promise<VncPeer> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const rootColour = options.rootColour ?? VNC_ROOT_COLOUR;
  const cleanup: Cleanup = { processes: [], reservation: undefined, directory: await mkdtemp(join(tmpdir(), 'lightsout-x11vnc-')) };
  try {
    const display = await withFreshDisplay(cleanup, (reservation) =>
      // -noreset: the root colour must survive xsetroot disconnecting (the last client).
      spawnPeer('Xvfb', 'Xvfb', [`:${reservation.display}`, '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset', '-displayfd', '3'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] }),
    );
    await setRootColour(display, rootColour);

    let passwordFile: string | undefined;
    const authArgs = ['-nopw'];
    if (options.password !== undefined) {
      const storedPassword = join(cleanup.directory, 'x11vnc.passwd');
      await runToCompletion('x11vnc -storepasswd', 'x11vnc', ['-storepasswd', options.password, storedPassword]);
      passwordFile = join(cleanup.directory, 'warmup.passwd');
      await writeFile(passwordFile, options.password, { mode: 0o600 });
      authArgs.splice(0, 1, '-rfbauth', storedPassword);
    }
    const versionArgs = options.rfbVersion === undefined ? [] : ['-rfbversion', options.rfbVersion];
    const port = await onFreePort(async (candidate) => {
      const x11vnc = spawnPeer('x11vnc', 'x11vnc', ['-display', `:${display}`, '-rfbport', String(candidate), '-localhost', '-noipv6', '-forever', '-shared', ...versionArgs, ...authArgs]);
      cleanup.processes.push(x11vnc);
      // x11vnc prints PORT=<n> on stdout once it listens.
      await waitForOutput(x11vnc, x11vnc.child.stdout!, (text) => text.includes(`PORT=${candidate}`), START_TIMEOUT_MS);
      return candidate;
    });
    await warmUp(port, rootColour, passwordFile);
    return { kind: 'x11vnc', host: '127.0.0.1', port, url: `vnc://127.0.0.1:${port}`, display, password: options.password, rootColour, width, height, pids: cleanup.processes.filter((peer) => peer.child.exitCode === null).map((peer) => peer.pid), directory: cleanup.directory, stop: () => cleanUp(cleanup) };
  } catch (error) {
    await cleanUp(cleanup);
    throw error;
  }
}

export interface XvncOptions extends VncServerOptions {
  /**
   * Xvnc's -SecurityTypes. Default: None without a password; with a password
   * Xvnc's own default, which offers VeNCrypt (19) before VncAuth (2).
   */
  securityTypes?: string;
  /**
   * Default true. The warm-up client speaks None and VncAuth only, so a
   * server restricted to e.g. VeNCrypt must skip it (Xvnc has no black first
   * frame; it listens before it reports its display).
   */
  warmUp?: boolean;
}

/** TigerVNC Xvnc: X server and RFB server in one process. */
export async function startXvnc(options: XvncOptions = {}): Promise<VncPeer> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const rootColour = options.rootColour ?? VNC_ROOT_COLOUR;
  const cleanup: Cleanup = { processes: [], reservation: undefined, directory: await mkdtemp(join(tmpdir(), 'lightsout-xvnc-')) };
  try {
    const securityArgs: string[] = [];
    let passwordFile: string | undefined;
    if (options.password !== undefined) {
      const obfuscated = await runToCompletionBinary(options.password);
      const storedPassword = join(cleanup.directory, 'xvnc.passwd');
      await writeFile(storedPassword, obfuscated, { mode: 0o600 });
      securityArgs.push('-PasswordFile', storedPassword);
      passwordFile = join(cleanup.directory, 'warmup.passwd');
      await writeFile(passwordFile, options.password, { mode: 0o600 });
    }
    const securityTypes = options.securityTypes ?? (options.password === undefined ? 'None' : undefined);
    if (securityTypes !== undefined) securityArgs.push('-SecurityTypes', securityTypes);

    let display = -1;
    const port = await onFreePort(async (candidate) => {
      // Xvnc opens its RFB listener during start-up, before it reports the display.
      display = await withFreshDisplay(cleanup, (reservation) =>
        spawnPeer(
          'Xvnc',
          'Xvnc',
          [`:${reservation.display}`, '-rfbport', String(candidate), '-localhost', '-interface', '127.0.0.1', '-nolisten', 'tcp', '-noreset', '-geometry', `${width}x${height}`, '-depth', '24', '-displayfd', '3', ...securityArgs],
          { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
        ),
      );
      return candidate;
    });
    await setRootColour(display, rootColour);
    // Xvnc has no black first frame, but warming up also proves it serves the colour.
    if (options.warmUp ?? true) await warmUp(port, rootColour, passwordFile);
    return { kind: 'xvnc', host: '127.0.0.1', port, url: `vnc://127.0.0.1:${port}`, display, password: options.password, rootColour, width, height, pids: cleanup.processes.filter((peer) => peer.child.exitCode === null).map((peer) => peer.pid), directory: cleanup.directory, stop: () => cleanUp(cleanup) };
  } catch (error) {
    await cleanUp(cleanup);
    throw error;
  }
}

/** `vncpasswd -f` turns a password on stdin into TigerVNC's obfuscated file format. */
async function runToCompletionBinary(password: string): Promise<Buffer> {
  const peer = spawnPeer('vncpasswd', 'vncpasswd', ['-f'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  peer.child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  peer.child.stdin!.end(`${password}\n`);
  const { code } = await peer.exited;
  if (code !== 0) throw new Error(`vncpasswd failed: ${peer.output()}`);
  return Buffer.concat(chunks);
}
