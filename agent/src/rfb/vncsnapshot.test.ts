import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { startX11vnc, type VncPeer } from '@lightsout/lab/vnc';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openRfbProxy, type RfbProxy } from './proxy.js';

const run = promisify(execFile);

// A real third-party client through the proxy: Debian's vncsnapshot (a
// TightVNC 1.2 viewer speaking RFB 3.3 with Tight/JPEG encodings) is pointed
// at a local TCP port whose connections are piped into openRfbProxy's client
// side. The BMC (x11vnc) wants a password vncsnapshot is never given.
let peer: VncPeer;
let directory: string;
let listener: Server;
const proxies: RfbProxy[] = [];
const proxyErrors: unknown[] = [];

beforeAll(async () => {
  peer = await startX11vnc({ password: 'vncpass' });
  directory = await mkdtemp(join(tmpdir(), 'lightsout-vncsnapshot-'));
  listener = createServer((socket) => {
    openRfbProxy({ url: peer.url, password: 'vncpass' }).then(
      (proxy) => {
        proxies.push(proxy);
        // Errors end the pipeline; they are collected and asserted empty below.
        pipeline(socket, proxy.client, socket).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') proxyErrors.push(error);
        });
      },
      (error: unknown) => {
        proxyErrors.push(error);
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const proxy of proxies) proxy.close();
  await new Promise((resolve) => listener?.close(resolve));
  await peer?.stop();
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** Decodes the JPEG with Debian's python3-PIL: size, pixel (1,1), and the share of pixels near `colour`. */
async function inspectJpeg(path: string, colour: string): Promise<{ width: number; height: number; pixel: number[]; nearShare: number }> {
  const script = `
import json, sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
target = bytes.fromhex(sys.argv[2])
pixels = list(image.getdata())
near = sum(1 for p in pixels if all(abs(p[i] - target[i]) <= 12 for i in range(3)))
print(json.dumps({"width": image.width, "height": image.height, "pixel": list(image.getpixel((1, 1))), "nearShare": near / len(pixels)}))
`;
  const { stdout } = await run('/usr/bin/python3', ['-c', script, path, colour.replace('#', '')], { timeout: 20_000 });
  return JSON.parse(stdout) as { width: number; height: number; pixel: number[]; nearShare: number };
}

it('vncsnapshot captures the BMC screen through the proxy without knowing the password', async () => {
  const { port } = listener.address() as AddressInfo;
  const image = join(directory, 'snapshot.jpg');
  // host::port is the TightVNC syntax for a raw TCP port.
  await run('vncsnapshot', ['-quiet', `127.0.0.1::${port}`, image], { timeout: 30_000 });
  expect((await stat(image)).size).toBeGreaterThan(0);
  const inspected = await inspectJpeg(image, peer.rootColour);
  expect({ width: inspected.width, height: inspected.height }).toEqual({ width: peer.width, height: peer.height });
  // JPEG is lossy: each channel within a small distance of #2a6f97.
  const expected = [0x2a, 0x6f, 0x97];
  inspected.pixel.forEach((channel, index) => expect(Math.abs(channel - expected[index]!)).toBeLessThanOrEqual(12));
  expect(inspected.nearShare).toBeGreaterThan(0.98);
  expect(proxyErrors).toEqual([]);
  // vncsnapshot spoke 3.3, so it got "None" as a u32 and no SecurityResult.
  expect(proxies).toHaveLength(1);
  expect(proxies[0]!.clientVersion).toBe('3.3');
  expect(proxies[0]!.bmc.securityType.name).toBe('VncAuth');
});
