import type { LightsoutError } from '@lightsout/shared';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeClientMessage } from './client-messages.js';
import { convertPixels, FANOUT_PIXEL_FORMAT, RfbFanout } from './fanout.js';
import { encodeServerInit, type PixelFormat } from './init-messages.js';
import { encodeFramebufferUpdateHeader, encodeRectangleHeader, encodeServerMessage } from './server-messages.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const hex = (bytes: Uint8Array[]): string => Buffer.concat(bytes).toString('hex');

/** A 4x2 screen: each pixel's B, G, R bytes are (index, 16 + index, 32 + index). */
const WIDTH = 4;
const HEIGHT = 2;
function screenPixels(offset = 0): Uint8Array {
  const bytes = new Uint8Array(WIDTH * HEIGHT * 4);
  for (let index = 0; index < WIDTH * HEIGHT; index++) bytes.set([index + offset, 16 + index + offset, 32 + index + offset, 0], index * 4);
  return bytes;
}

function rawUpdate(x: number, y: number, width: number, height: number, pixels: Uint8Array): Uint8Array {
  return Buffer.concat([encodeFramebufferUpdateHeader(1), encodeRectangleHeader({ x, y, width, height, encoding: 0 }), pixels]);
}

describe('RfbFanout: one upstream RFB conversation, several viewers', () => {
  let upstream: Uint8Array[];
  let viewers: Map<number, Uint8Array[]>;
  let closed: Map<number, LightsoutError>;
  let refused: string[];
  /** Bytes the sink holds for a viewer that stopped reading; only viewers listed here report a backlog. */
  let unsent: Map<number, number>;
  let fanout: RfbFanout;

  function start(viewOnly = false): void {
    upstream = [];
    viewers = new Map();
    closed = new Map();
    refused = [];
    unsent = new Map();
    fanout = new RfbFanout(
      {
        toUpstream: (bytes) => upstream.push(bytes),
        toViewer: (id, bytes) => {
          viewers.set(id, [...(viewers.get(id) ?? []), bytes]);
          if (unsent.has(id)) unsent.set(id, unsent.get(id)! + bytes.length);
        },
        viewerBacklog: (id) => unsent.get(id) ?? 0,
        closeViewer: (id, error) => closed.set(id, error),
        inputRefused: (id, kind) => refused.push(`${id}:${kind}`),
      },
      { viewOnly },
    );
  }

  /** The console session's side: RFB 3.8, None, ServerInit, then the first full update. */
  function upstreamReady(): void {
    fanout.fromUpstream(ascii('RFB 003.008\n'));
    expect(hex(upstream.splice(0))).toBe(Buffer.from('RFB 003.008\n').toString('hex'));
    fanout.fromUpstream(Uint8Array.of(1, 1));
    expect(hex(upstream.splice(0))).toBe('01');
    fanout.fromUpstream(Uint8Array.of(0, 0, 0, 0));
    expect(hex(upstream.splice(0))).toBe('01'); // ClientInit, shared
    fanout.fromUpstream(encodeServerInit({ width: WIDTH, height: HEIGHT, pixelFormat: { ...FANOUT_PIXEL_FORMAT, bigEndian: true }, name: 'sim-01' }));
    // SetPixelFormat (ours), SetEncodings [Raw], a full FramebufferUpdateRequest.
    expect(upstream.map((bytes) => bytes[0])).toEqual([0, 2, 3]);
    expect(hex([upstream[1]!])).toBe('020000010' + '0000000');
    expect(hex([upstream[2]!])).toBe('0300' + '0000' + '0000' + '0004' + '0002');
    upstream.length = 0;
  }

  /** A 3.8 viewer through its handshake and ClientInit; returns its id and what it received. */
  function connect(): number {
    const { id, greeting } = fanout.addViewer();
    viewers.set(id, [greeting]);
    fanout.fromViewer(id, ascii('RFB 003.008\n'));
    fanout.fromViewer(id, Uint8Array.of(1));
    fanout.fromViewer(id, Uint8Array.of(0)); // ClientInit, exclusive: shared anyway
    return id;
  }

  const received = (id: number) => Buffer.concat(viewers.get(id) ?? []);

  beforeEach(() => start());

  it('greets each viewer with the upstream size and name in its own format, and answers requests with the screen', () => {
    upstreamReady();
    const id = connect();
    const greeting = received(id);
    // "RFB 003.008\n", [1, None], SecurityResult OK, ServerInit.
    expect(greeting.subarray(0, 12).toString()).toBe('RFB 003.008\n');
    expect(greeting.subarray(12, 18).toString('hex')).toBe('010100000000');
    const serverInit = greeting.subarray(18);
    expect(serverInit.readUInt16BE(0)).toBe(WIDTH);
    expect(serverInit.readUInt16BE(2)).toBe(HEIGHT);
    expect(serverInit[6]).toBe(0); // little-endian: FANOUT_PIXEL_FORMAT, not the upstream's
    expect(serverInit.subarray(24).toString()).toBe('sim-01');
    viewers.set(id, []);
    // A request before the first update is held until the screen is known.
    fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: false, x: 0, y: 0, width: WIDTH, height: HEIGHT }));
    expect(received(id).length).toBe(0);
    fanout.fromUpstream(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels()));
    expect(received(id).toString('hex')).toBe(Buffer.from(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels())).toString('hex'));
    // The fan-out keeps one incremental request outstanding upstream.
    expect(hex(upstream)).toBe('0301' + '0000' + '0000' + '0004' + '0002');
  });

  it('sends an incremental request only the part that changed, after the update that changed it', () => {
    upstreamReady();
    const id = connect();
    fanout.fromUpstream(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels()));
    fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: false, x: 0, y: 0, width: WIDTH, height: HEIGHT }));
    viewers.set(id, []);
    fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: WIDTH, height: HEIGHT }));
    expect(received(id).length).toBe(0); // nothing new: it waits
    const changed = Uint8Array.of(9, 9, 9, 0, 8, 8, 8, 0);
    // Split across reads, the way TCP delivers it.
    const update = rawUpdate(1, 1, 2, 1, changed);
    fanout.fromUpstream(update.subarray(0, 7));
    fanout.fromUpstream(update.subarray(7, 17));
    expect(received(id).length).toBe(0);
    fanout.fromUpstream(update.subarray(17));
    expect(received(id).toString('hex')).toBe(Buffer.from(update).toString('hex'));
  });

  it('serves two viewers from one upstream conversation, each in the pixel format it asked for', () => {
    upstreamReady();
    const first = connect();
    const second = connect();
    const rgb565: PixelFormat = { bitsPerPixel: 16, depth: 16, bigEndian: true, trueColour: true, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 };
    fanout.fromViewer(second, encodeClientMessage({ kind: 'set-pixel-format', format: rgb565 }));
    fanout.fromUpstream(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels()));
    viewers.clear();
    for (const id of [first, second]) fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: WIDTH, height: HEIGHT }));
    expect(received(first).subarray(16)).toEqual(Buffer.from(screenPixels()));
    const pixels = received(second).subarray(16);
    expect(pixels.length).toBe(WIDTH * HEIGHT * 2);
    // Pixel 0: R 32, G 16, B 0 → (4 << 11) | (4 << 5) | 0, big-endian.
    expect(pixels.readUInt16BE(0)).toBe((Math.round((32 * 31) / 255) << 11) | (Math.round((16 * 63) / 255) << 5));
    // Only the one request went upstream for both.
    expect(upstream.filter((bytes) => bytes[0] === 3)).toHaveLength(1);
  });

  it('forwards input upstream, or drops it and says so when view-only', () => {
    upstreamReady();
    const id = connect();
    const key = encodeClientMessage({ kind: 'key', down: true, keysym: 0x61 });
    const pointer = encodeClientMessage({ kind: 'pointer', buttons: 1, x: 2, y: 1 });
    fanout.fromViewer(id, Buffer.concat([key, pointer]));
    expect(hex(upstream)).toBe(Buffer.concat([key, pointer]).toString('hex'));

    start(true);
    upstreamReady();
    const viewer = connect();
    fanout.fromViewer(viewer, Buffer.concat([key, pointer, encodeClientMessage({ kind: 'cut-text', text: ascii('rm -rf /') })]));
    expect(upstream).toEqual([]);
    expect(refused).toEqual([`${viewer}:key`, `${viewer}:pointer`, `${viewer}:cut-text`]);
  });

  it('greets viewers who connected before the upstream ServerInit once it arrives', () => {
    const id = connect();
    expect(received(id).length).toBe(18); // version, security types, result; no ServerInit yet
    upstreamReady();
    expect(received(id).length).toBe(18 + 24 + 'sim-01'.length);
  });

  it('passes the bell and the server clipboard to every viewer, and steps over a colour map', () => {
    upstreamReady();
    const id = connect();
    viewers.set(id, []);
    const colourMap = Uint8Array.of(1, 0, 0, 0, 0, 1, 0, 1, 0, 2, 0, 3);
    const bell = encodeServerMessage({ kind: 'bell' });
    const cut = encodeServerMessage({ kind: 'cut-text', text: ascii('hello') });
    fanout.fromUpstream(Buffer.concat([colourMap, bell, cut]));
    expect(received(id).toString('hex')).toBe(Buffer.concat([bell, cut]).toString('hex'));
  });

  it('closes a viewer that asks for a colour map or sends garbage, and keeps the others', () => {
    upstreamReady();
    const bad = connect();
    const good = connect();
    fanout.fromViewer(bad, encodeClientMessage({ kind: 'set-pixel-format', format: { ...FANOUT_PIXEL_FORMAT, bitsPerPixel: 8, trueColour: false } }));
    expect(closed.get(bad)?.code).toBe('BMC_UNSUPPORTED');
    const garbage = connect();
    fanout.fromViewer(garbage, Uint8Array.of(0x99));
    expect(closed.get(garbage)?.code).toBe('MALFORMED_MESSAGE');
    expect(closed.has(good)).toBe(false);
    expect(fanout.viewerCount).toBe(1);
  });

  it('keeps one update in the sink per viewer until it drains, and answers the requests that came meanwhile with one merged update (RFC 6143 §7.5.3)', () => {
    upstreamReady();
    const id = connect();
    fanout.fromUpstream(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels()));
    unsent.set(id, 0);
    viewers.set(id, []);
    // 1,000 bytes of non-incremental requests for the whole screen: one full update, not a hundred.
    const full = encodeClientMessage({ kind: 'update-request', incremental: false, x: 0, y: 0, width: WIDTH, height: HEIGHT });
    fanout.fromViewer(id, Buffer.concat(Array.from({ length: 100 }, () => full)));
    expect(received(id).toString('hex')).toBe(Buffer.from(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels())).toString('hex'));
    // The screen changes while that update is still in the sink: still nothing more.
    fanout.fromUpstream(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels(100)));
    expect(received(id).length).toBe(48);
    viewers.set(id, []);
    unsent.set(id, 0);
    fanout.viewerDrained(id);
    // The 99 requests that waited, in one update of the screen as it is now.
    expect(received(id).toString('hex')).toBe(Buffer.from(rawUpdate(0, 0, WIDTH, HEIGHT, screenPixels(100))).toString('hex'));
    viewers.set(id, []);
    unsent.set(id, 0);
    fanout.viewerDrained(id);
    expect(received(id).length).toBe(0);

    // Requests merged while one is in the sink cover the union of their areas; a non-incremental one is sent even when nothing changed there.
    fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: 1, height: 1 }));
    expect(received(id).length).toBe(0); // nothing new there: it waits
    fanout.fromUpstream(rawUpdate(0, 0, 1, 1, Uint8Array.of(7, 7, 7, 0)));
    expect(received(id).toString('hex')).toBe(Buffer.from(rawUpdate(0, 0, 1, 1, Uint8Array.of(7, 7, 7, 0))).toString('hex'));
    viewers.set(id, []);
    fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: 1, height: 1 }));
    fanout.fromViewer(id, encodeClientMessage({ kind: 'update-request', incremental: false, x: 2, y: 1, width: 2, height: 1 }));
    fanout.fromUpstream(rawUpdate(0, 0, 1, 1, Uint8Array.of(6, 6, 6, 0)));
    expect(received(id).length).toBe(0);
    unsent.set(id, 0);
    fanout.viewerDrained(id);
    // The bounding box of 0,0 1x1 (changed) and 2,1 2x1 (asked for in full) is the whole screen here, in one rectangle.
    const pixels = screenPixels(100);
    pixels.set([6, 6, 6, 0], 0);
    expect(received(id).toString('hex')).toBe(Buffer.from(rawUpdate(0, 0, WIDTH, HEIGHT, pixels)).toString('hex'));
  });

  it('closes a viewer that sends more than 16 KiB before ServerInit (FRAME_TOO_LARGE), and keeps the few bytes a viewer may send early', () => {
    const early = connect();
    const encodings = encodeClientMessage({ kind: 'set-encodings', encodings: [0] });
    fanout.fromViewer(early, encodings);
    const flooding = connect();
    const junk = new Uint8Array(1000).fill(3);
    for (let sent = 0; sent <= 16 * 1024; sent += junk.length) fanout.fromViewer(flooding, junk);
    expect(closed.get(flooding)).toMatchObject({ code: 'FRAME_TOO_LARGE' });
    expect(closed.has(early)).toBe(false);
    upstreamReady();
    expect(fanout.viewerCount).toBe(1);
    expect(received(early).length).toBe(18 + 24 + 'sim-01'.length);
  });

  it('refuses an upstream rectangle in an encoding it did not ask for, or outside the screen', () => {
    upstreamReady();
    expect(() => fanout.fromUpstream(Buffer.concat([encodeFramebufferUpdateHeader(1), encodeRectangleHeader({ x: 0, y: 0, width: 1, height: 1, encoding: 7 })]))).toThrow(/encoding 7/);
    start();
    upstreamReady();
    expect(() => fanout.fromUpstream(Buffer.concat([encodeFramebufferUpdateHeader(1), encodeRectangleHeader({ x: 3, y: 0, width: 2, height: 1, encoding: 0 })]))).toThrow(/outside/);
  });

  it('refuses a ServerInit screen larger than 8192x8192 with BMC_PROTOCOL_ERROR before allocating its framebuffer', () => {
    fanout.fromUpstream(ascii('RFB 003.008\n'));
    fanout.fromUpstream(Uint8Array.of(1, 1));
    fanout.fromUpstream(Uint8Array.of(0, 0, 0, 0));
    upstream.length = 0;
    const before = process.memoryUsage().arrayBuffers;
    let failure: unknown;
    try {
      fanout.fromUpstream(encodeServerInit({ width: 20_000, height: 20_000, pixelFormat: FANOUT_PIXEL_FORMAT, name: 'huge' }));
    } catch (error) {
      failure = error;
    }
    // 20000 x 20000 x 4 bytes would be 1.6 GB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(failure).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', message: expect.stringContaining('20000x20000'), details: { width: 20_000, height: 20_000 } });
    // Nothing was asked of the BMC for a screen that was refused.
    expect(upstream).toEqual([]);
  });
});

describe('convertPixels', () => {
  it('writes 32-bit big-endian and 8-bit BGR233 pixels', () => {
    const framebuffer = Uint8Array.of(0xff, 0x00, 0x80, 0); // B 255, G 0, R 128
    const big = convertPixels(framebuffer, 1, { x: 0, y: 0, width: 1, height: 1 }, { ...FANOUT_PIXEL_FORMAT, bigEndian: true });
    expect(Buffer.from(big).toString('hex')).toBe('008000ff');
    const bgr233: PixelFormat = { bitsPerPixel: 8, depth: 8, bigEndian: false, trueColour: true, redMax: 7, greenMax: 7, blueMax: 3, redShift: 0, greenShift: 3, blueShift: 6 };
    expect(convertPixels(framebuffer, 1, { x: 0, y: 0, width: 1, height: 1 }, bgr233)[0]).toBe((3 << 6) | (0 << 3) | 4);
  });
});
