import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { childPrograms } from './testing/index.js';
import { startWebsockify, startX11vnc, startXvnc, VNC_ROOT_COLOUR } from './vnc.js';

/** Reads the first 12 bytes a server sends (its RFB ProtocolVersion). */
function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.length >= 12) {
        socket.destroy();
        resolve(text.slice(0, 12));
      }
    });
    socket.once('error', reject);
  });
}

/** Running, and not a zombie (an orphan's entry lingers where PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('VNC lab peers', () => {
  it('x11vnc starts on a free port with its own display and stops without leftovers', async () => {
    const peer = await startX11vnc({ rfbVersion: '3.7' });
    expect(peer).toMatchObject({ kind: 'x11vnc', host: '127.0.0.1', rootColour: VNC_ROOT_COLOUR, url: `vnc://127.0.0.1:${peer.port}` });
    expect(await banner(peer.port)).toBe('RFB 003.007\n');
    expect(existsSync(`/tmp/.X11-unix/X${peer.display}`)).toBe(true);
    expect(peer.pids).toHaveLength(2);
    await peer.stop();
    for (const pid of peer.pids) expect(alive(pid)).toBe(false);
    expect(existsSync(`/tmp/.X11-unix/X${peer.display}`)).toBe(false);
    expect(existsSync(`/tmp/.X${peer.display}-lock`)).toBe(false);
    await expect(banner(peer.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await peer.stop(); // idempotent
  });

  it('Xvnc and websockify start, and websockify stops with its process gone', async () => {
    const xvnc = await startXvnc();
    const bridge = await startWebsockify(xvnc);
    try {
      expect(await banner(xvnc.port)).toBe('RFB 003.008\n');
      expect(bridge.url).toBe(`ws://127.0.0.1:${bridge.port}/`);
    } finally {
      await bridge.stop();
      await xvnc.stop();
    }
    await expect(banner(bridge.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(existsSync(`/tmp/.X${xvnc.display}-lock`)).toBe(false);
    for (const pid of [...xvnc.pids, bridge.pid]) expect(alive(pid)).toBe(false);
  });

  it('peers die with the process that started them, even on SIGKILL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', childPrograms.vncPeer], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { pids, display, directory } = JSON.parse(line) as { pids: number[]; display: number; directory: string };
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    // Condition wait: the kernel's parent-death SIGTERM reaches both peers.
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(`/tmp/.X11-unix/X${display}`)).toBe(false);
    // Its lock and temp dir stay behind (nobody ran stop()); reserveDisplay
    // would clean the lock once it is old, the test cleans both now.
    await rm(`/tmp/.X${display}-lock`, { force: true });
    await rm(directory, { recursive: true, force: true });
  });
});
