import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '../host/clock.js';
import { Host } from '../host/host.js';
import { BmcWebServer } from '../web/server.js';
import { encodePixelFormat, type PixelFormat } from '@lightsout/bmc-wire/rfb';
import { FRAMEBUFFER_HEIGHT, FRAMEBUFFER_WIDTH } from './render.js';
import { RfbTcpServer } from './tcp-server.js';

// /kvm/0 must carry exactly the RFB stream port 5900 carries. A scripted client
// sends the same bytes over both and the answers must match byte for byte.

const stoppers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0)) await stop();
});

const RGB565: PixelFormat = { bitsPerPixel: 16, depth: 16, bigEndian: false, trueColour: true, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 };

function clientScript(): Uint8Array {
  const setPixelFormat = new Uint8Array(20);
  setPixelFormat.set(encodePixelFormat(RGB565), 4);
  const request = new Uint8Array([3, 0, 0, 0, 0, 0, FRAMEBUFFER_WIDTH >> 8, FRAMEBUFFER_WIDTH & 0xff, FRAMEBUFFER_HEIGHT >> 8, FRAMEBUFFER_HEIGHT & 0xff]);
  return Buffer.concat([Buffer.from('RFB 003.008\n'), Uint8Array.of(1), Uint8Array.of(1), setPixelFormat, request]);
}

// version 12 + security list 2 + result 4 + ServerInit 24+name + update header 4 + rect 12 + pixels
function expectedLength(name: string): number {
  return 12 + 2 + 4 + 24 + name.length + 4 + 12 + FRAMEBUFFER_WIDTH * FRAMEBUFFER_HEIGHT * 2;
}

async function collect(start: (onData: (chunk: Uint8Array) => void) => () => void, length: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const timer = setTimeout(() => reject(new Error(`only ${total} of ${length} bytes`)), 10_000);
    const stop = start((chunk) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= length) {
        clearTimeout(timer);
        stop();
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

describe('RFB over WebSocket /kvm/0', () => {
  it('is byte-identical to RFB over TCP (16 bpp, full update)', async () => {
    const clock = new ManualClock();
    const host = new Host({ hostname: 'ws-01', clock, timings: { postMs: 1, bootMs: 1 } });
    host.powerOn();
    clock.advance(5);
    const tcp = new RfbTcpServer(() => ({ host, password: undefined, desktopName: 'ws-01' }));
    const tcpPort = await tcp.listen(0, '127.0.0.1');
    stoppers.push(() => tcp.close());
    const web = new BmcWebServer({
      host,
      tls: undefined,
      authorizeUpgrade: (request) => request.headers.authorization === `Basic ${Buffer.from('admin:pw').toString('base64')}`,
      handleRequest: (_request, response) => response.writeHead(404).end(),
      vncPassword: undefined,
      desktopName: 'ws-01',
    });
    const webPort = await web.listen(0, '127.0.0.1');
    stoppers.push(() => web.close());

    const length = expectedLength('ws-01');
    const overTcp = await collect((onData) => {
      const socket = connect(tcpPort, '127.0.0.1', () => socket.write(clientScript()));
      socket.on('data', onData);
      return () => socket.destroy();
    }, length);
    const overWebSocket = await collect((onData) => {
      const webSocket = new WebSocket(`ws://127.0.0.1:${webPort}/kvm/0`, ['binary'], { headers: { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` } });
      webSocket.on('open', () => {
        expect(webSocket.protocol).toBe('binary');
        // Arbitrary chunking, as websockify and noVNC do.
        const script = clientScript();
        webSocket.send(script.subarray(0, 5));
        webSocket.send(script.subarray(5));
      });
      webSocket.on('message', (data: Buffer) => onData(data));
      return () => webSocket.close();
    }, length);
    expect(overTcp.length).toBe(length);
    expect(Buffer.compare(overTcp, overWebSocket)).toBe(0);
    // The 16 bpp pixel of the banner background (blue 0x0000aa) is RGB565 0x0015.
    const pixels = overTcp.subarray(length - FRAMEBUFFER_WIDTH * FRAMEBUFFER_HEIGHT * 2);
    expect([pixels[0], pixels[1]]).toEqual([0x15, 0x00]);
  });

  it('refuses an unauthenticated upgrade with 401', async () => {
    const host = new Host({ hostname: 'ws-02', clock: new ManualClock() });
    const web = new BmcWebServer({ host, tls: undefined, authorizeUpgrade: () => false, handleRequest: (_q, r) => r.end(), vncPassword: undefined, desktopName: 'x' });
    const port = await web.listen(0, '127.0.0.1');
    stoppers.push(() => web.close());
    const status = await new Promise<number>((resolve) => {
      const webSocket = new WebSocket(`ws://127.0.0.1:${port}/kvm/0`);
      webSocket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      webSocket.on('error', () => resolve(-1));
    });
    expect(status).toBe(401);
  });
});
