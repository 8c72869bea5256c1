import { startPeers, startX11vnc, stopPeers, type VncPeer } from '@lightsout/lab/vnc';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '@lightsout/lab/wait';
import { openRfbPort } from './console-port.js';
import { decodeServerInit } from '@lightsout/bmc-wire/rfb';

let peers: { locked: VncPeer } | undefined;

beforeAll(async () => {
  peers = await startPeers({ locked: () => startX11vnc({ password: 'vncpass' }) });
});

afterAll(() => stopPeers(peers));

it('a VNC console as a byte port: None handshake toward the client, real ServerInit after, close reported once', async () => {
  const peer = peers!.locked;
  const received: Buffer[] = [];
  const arrivals = new EventTarget();
  const closes: string[] = [];
  const port = await openRfbPort(
    { url: peer.url, password: 'vncpass' },
    {
      data: (bytes) => {
        received.push(Buffer.from(bytes));
        arrivals.dispatchEvent(new Event('data'));
      },
      drain: () => undefined,
      close: (reason) => closes.push(reason),
    },
  );
  /** Waits until at least `length` bytes arrived in total. */
  const until = (length: number): Promise<Buffer> =>
    waitFor(
      () => `${length} bytes from the console port (${Buffer.concat(received).length} so far)`,
      () => {
        const bytes = Buffer.concat(received);
        return bytes.length >= length && bytes;
      },
      { wake: (wake) => (arrivals.addEventListener('data', wake), () => arrivals.removeEventListener('data', wake)) },
    );
  expect((await until(12)).toString()).toBe('RFB 003.008\n');
  port.write(Buffer.from('RFB 003.008\n'));
  expect((await until(14)).subarray(12).toString('hex')).toBe('0101');
  port.write(Uint8Array.of(1));
  expect((await until(18)).subarray(14).toString('hex')).toBe('00000000');
  port.write(Uint8Array.of(1)); // ClientInit
  // ServerInit is fixed 24 bytes plus the desktop name: wait for as much as the decoder asks.
  let serverInit = decodeServerInit((await until(18 + 24)).subarray(18));
  if (serverInit.kind === 'needMore') serverInit = decodeServerInit((await until(18 + serverInit.needed)).subarray(18));
  expect(serverInit).toMatchObject({ kind: 'value', value: { width: peer.width, height: peer.height, name: `vm:${peer.display}` } });
  port.close();
  port.close();
  await port.proxy.closed;
  await new Promise((resolve) => setImmediate(resolve));
  expect(closes).toHaveLength(1);
  expect(port.write(Uint8Array.of(0))).toBe(false);
});
