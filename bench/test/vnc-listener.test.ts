import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Fleet, startFleet } from '@lightsout/bmcsim';
import { startXvnc, type VncPeer } from '@lightsout/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { until } from '../lib/processes.js';
import { type Stack, startStack } from '../lib/stack.js';

const run = promisify(execFile);
const cliBin = fileURLToPath(new URL('../../cli/bin/lightsout.js', import.meta.url));

/**
 * `lightsout vnc SERVER --listen` as a user runs it, with a VNC client no one
 * here wrote: Debian's vncsnapshot (a TightVNC 1.x viewer, RFB 3.3) connects
 * to the CLI's local port, which carries the console session through relay
 * and agent processes to the BMC. The BMCs want VNC passwords the CLI and
 * vncsnapshot never get: bmcsim's RFB server, and TigerVNC's Xvnc. Each
 * capture through the listener is compared pixel by pixel with a direct
 * capture of the same BMC (which does need the password).
 */
const SIM_VNC_PASSWORD = 'simvnc1';
const XVNC_PASSWORD = 'xvncpw1';

interface Capture {
  width: number;
  height: number;
}

describe('lightsout vnc SERVER --listen', () => {
  let directory: string;
  let fleet: Fleet;
  let xvnc: VncPeer;
  let echo: Awaited<ReturnType<typeof startSerialWebSocketEcho>>;
  let stack: Stack;
  const typedAtSim: Buffer[] = [];
  const children = new Set<ChildProcess>();

  /** vncpasswd's obfuscated file, which is what vncsnapshot -passwd reads. */
  function passwordFile(name: string, password: string): string {
    const result = spawnSync('vncpasswd', ['-f'], { input: `${password}\n` });
    expect(result.status, result.stderr.toString()).toBe(0);
    const path = join(directory, `${name}.passwd`);
    writeFileSync(path, result.stdout, { mode: 0o600 });
    return path;
  }

  async function snapshot(name: string, target: string, extra: string[] = []): Promise<string> {
    const file = join(directory, `${name}.jpg`);
    await run('vncsnapshot', ['-quiet', '-encodings', 'raw', '-quality', '100', ...extra, target, file], { timeout: 60_000 });
    return file;
  }

  /** Size of each JPEG and the mean absolute difference per channel between them (python3-PIL). */
  async function compare(first: string, second: string): Promise<{ sizes: Capture[]; meanDifference: number }> {
    const script = `
import json, sys
from PIL import Image, ImageChops, ImageStat
a = Image.open(sys.argv[1]).convert("RGB")
b = Image.open(sys.argv[2]).convert("RGB")
sizes = [{"width": a.width, "height": a.height}, {"width": b.width, "height": b.height}]
mean = sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3 if a.size == b.size else 255
print(json.dumps({"sizes": sizes, "meanDifference": mean}))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, first, second], { timeout: 30_000 });
    return JSON.parse(stdout) as { sizes: Capture[]; meanDifference: number };
  }

  function cli(args: string[]) {
    const child = spawn(process.execPath, [cliBin, ...args], {
      env: { ...process.env, LIGHTSOUT_RELAY: stack.relayUrl, LIGHTSOUT_TOKEN: stack.operatorToken, LIGHTSOUT_CONFIG_DIR: '/nonexistent-lightsout-config' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'exit').then(([code]) => {
      children.delete(child);
      return code as number | null;
    });
    return { child, exited, stdout: () => stdout, stderr: () => stderr };
  }

  /** Starts a listener on a free loopback port; returns it once it printed where it listens. */
  async function listen(server: string, extra: string[] = []) {
    const process_ = cli(['vnc', server, '--listen', '0', ...extra]);
    await until(() => /^127\.0\.0\.1:\d+$/m.test(process_.stdout()) || process_.child.exitCode !== null, 60_000, () => `the listening line; stderr: ${process_.stderr()}`);
    const port = Number(/^127\.0\.0\.1:(\d+)$/m.exec(process_.stdout())?.[1]);
    expect(port, process_.stderr()).toBeGreaterThan(0);
    return { ...process_, port };
  }

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'lightsout-vnc-listener-'));
    fleet = await startFleet({ count: 1, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, startPowered: true, vncPassword: SIM_VNC_PASSWORD, timings: { postMs: 5, bootMs: 5 } });
    const host = fleet.bmcs[0]!.bmc.host;
    const type = host.type.bind(host);
    host.type = (bytes: Uint8Array) => {
      typedAtSim.push(Buffer.from(bytes));
      type(bytes);
    };
    xvnc = await startXvnc({ password: XVNC_PASSWORD, securityTypes: 'VncAuth' });
    echo = await startSerialWebSocketEcho();
    stack = await startStack(
      [
        { id: 'sim-01', vnc: { url: fleet.bmcs[0]!.vncUrl, credentials: 'sim-vnc' } },
        { id: 'xvnc-01', vnc: { url: xvnc.url, credentials: 'xvnc' } },
        { id: 'text-01', serial: { url: echo.url } },
      ],
      {
        agentEnv: { SIM_VNC_PASSWORD, XVNC_PASSWORD },
        agentCredentials: [
          { id: 'sim-vnc', username: 'vnc', passwordEnv: 'SIM_VNC_PASSWORD' },
          { id: 'xvnc', username: 'vnc', passwordEnv: 'XVNC_PASSWORD' },
        ],
      },
    );
  }, 180_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await stack?.close();
    await echo?.close();
    await xvnc?.stop();
    await fleet?.stop();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  it("captures bmcsim's screen through the listener, pixel for pixel what a direct capture with the password sees, for two viewers sharing one session", async () => {
    const listener = await listen('sim-01');
    // Something on the screen beyond the boot banner, so equal images mean something.
    fleet.bmcs[0]!.bmc.host.type(new TextEncoder().encode('root\recho through-the-listener\r'));
    await until(() => fleet.bmcs[0]!.bmc.host.screen.text().includes('through-the-listener'), 10_000, 'the host to echo');
    const direct = await snapshot('sim-direct', `127.0.0.1::${fleet.bmcs[0]!.vncPort}`, ['-passwd', passwordFile('sim', SIM_VNC_PASSWORD)]);
    // Two vncsnapshot processes at once: both through the one console session.
    const [first, second] = await Promise.all([snapshot('sim-listener-1', `127.0.0.1::${listener.port}`), snapshot('sim-listener-2', `127.0.0.1::${listener.port}`)]);
    for (const capture of [first, second]) {
      const compared = await compare(direct, capture);
      expect(compared.sizes[1]).toEqual(compared.sizes[0]);
      expect(compared.meanDifference).toBeLessThan(1);
    }
    expect(listener.stderr()).toMatch(/VNC viewer 1 connected/);
    expect(listener.stderr()).toMatch(/VNC viewer 2 connected/);
    // The check can fail: the text screen against a plain one is far apart.
    const plain = await snapshot('xvnc-direct-for-contrast', `127.0.0.1::${xvnc.port}`, ['-passwd', join(xvnc.directory, 'xvnc.passwd')]);
    expect((await compare(direct, plain)).meanDifference).toBeGreaterThan(10);
    listener.child.kill('SIGINT');
    expect(await listener.exited).toBe(0);
  }, 120_000);

  it("captures TigerVNC Xvnc's screen (VNC password held by the agent) like a direct capture", async () => {
    const listener = await listen('xvnc-01');
    const direct = await snapshot('xvnc-direct', `127.0.0.1::${xvnc.port}`, ['-passwd', join(xvnc.directory, 'xvnc.passwd')]);
    const through = await snapshot('xvnc-listener', `127.0.0.1::${listener.port}`);
    const compared = await compare(direct, through);
    expect(compared.sizes[1]).toEqual({ width: xvnc.width, height: xvnc.height });
    expect(compared.meanDifference).toBeLessThan(1);
    listener.child.kill('SIGTERM');
    expect(await listener.exited).toBe(0);
  }, 120_000);

  /** A raw RFB 3.8 viewer: handshake, ClientInit, then whatever the test sends; resolves with the ServerInit size. */
  async function rawViewer(port: number): Promise<{ socket: Socket; width: number; height: number }> {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    await until(() => received.length >= 12, 10_000, 'the server version');
    expect(received.subarray(0, 12).toString()).toBe('RFB 003.008\n');
    socket.write('RFB 003.008\n');
    await until(() => received.length >= 14, 10_000, 'the security types');
    expect([...received.subarray(12, 14)]).toEqual([1, 1]); // None only
    socket.write(Uint8Array.of(1));
    await until(() => received.length >= 18, 10_000, 'SecurityResult');
    expect(received.readUInt32BE(14)).toBe(0);
    socket.write(Uint8Array.of(1));
    await until(() => received.length >= 18 + 24, 10_000, 'ServerInit');
    return { socket, width: received.readUInt16BE(18), height: received.readUInt16BE(20) };
  }

  function keyPress(keysym: number): Buffer {
    const down = Buffer.from([4, 1, 0, 0, 0, 0, 0, 0]);
    down.writeUInt32BE(keysym, 4);
    const up = Buffer.from(down);
    up[1] = 0;
    return Buffer.concat([down, up]);
  }

  it('--view-only drops key events (a raw RFB viewer types into bmcsim: nothing arrives), while without it the same keys do', async () => {
    const viewOnly = await listen('sim-01', ['--view-only']);
    const viewer = await rawViewer(viewOnly.port);
    expect(viewer.width * viewer.height).toBeGreaterThan(0);
    typedAtSim.length = 0;
    viewer.socket.write(keyPress(0x71)); // 'q'
    await until(() => viewOnly.stderr().includes('view-only: input from VNC viewer 1 is dropped'), 10_000, () => `the refusal notice; stderr: ${viewOnly.stderr()}`);
    viewer.socket.destroy();
    viewOnly.child.kill('SIGINT');
    expect(await viewOnly.exited).toBe(0);

    const control = await listen('sim-01');
    const typist = await rawViewer(control.port);
    typist.socket.write(keyPress(0x7a)); // 'z': it must reach the host, so the view-only check above could have failed
    await until(() => Buffer.concat(typedAtSim).includes('z'), 15_000, () => `the key at the host; typed: ${JSON.stringify(Buffer.concat(typedAtSim).toString('latin1'))}`);
    expect(Buffer.concat(typedAtSim).toString('latin1')).not.toContain('q');
    typist.socket.destroy();
    control.child.kill('SIGINT');
    expect(await control.exited).toBe(0);
  }, 120_000);

  it('says the server has no graphical console, with exit status 5, without listening', async () => {
    const refused = cli(['vnc', 'text-01', '--listen', '0']);
    expect(await refused.exited).toBe(5);
    expect(refused.stderr()).toMatch(/text-01 has no graphical console/);
    expect(refused.stdout()).toBe('');
  });

  it('refuses a non-loopback address without --allow-remote (exit 2), and warns with it', async () => {
    const refused = cli(['vnc', 'sim-01', '--listen', '0.0.0.0:0']);
    expect(await refused.exited).toBe(2);
    expect(refused.stderr()).toMatch(/not a loopback address/);
    const allowed = cli(['vnc', 'sim-01', '--listen', '0.0.0.0:0', '--allow-remote', '--view-only']);
    await until(() => /^0\.0\.0\.0:\d+$/m.test(allowed.stdout()) || allowed.child.exitCode !== null, 60_000, () => `the listening line; stderr: ${allowed.stderr()}`);
    expect(allowed.stderr()).toMatch(/WARNING: listening on 0\.0\.0\.0:\d+, not loopback/);
    allowed.child.kill('SIGINT');
    expect(await allowed.exited).toBe(0);
  }, 60_000);
});
