import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { encodeClientMessage, encodeFramebufferUpdateHeader, encodeProtocolVersion, encodeRectangleHeader, encodeSecurityResult, encodeSecurityTypes, encodeServerInit, encodeServerMessage, FANOUT_PIXEL_FORMAT, MAX_SERVER_CUT_TEXT } from '@lightsout/bmc-wire/rfb';
import { encodeStreamMessage, type SessionCreated, type StreamSocketEvents } from '@lightsout/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openVncListener, type VncListener, VIEWER_BACKLOG_SLACK_BYTES, viewerBacklogCap } from './vnc-listener.js';

const session = { sessionId: 'ses_1', serverId: 'sim-01', kind: 'vnc', mode: 'control', token: 'stream-token', streamUrl: 'ws://relay.test/v1/streams/ses_1' } as unknown as SessionCreated;

/** The screen of the repro: one full Raw update in 32-bit pixels is 8 MiB, more than loopback TCP takes from a viewer that does not read. */
const WIDTH = 1920;
const HEIGHT = 1080;
const NAME = 'sim-01';

function screen(): Buffer {
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 4);
  for (let offset = 0; offset < pixels.length; offset += 4) pixels.writeUInt32LE(Math.imul(offset, 2654435761) >>> 0, offset);
  return pixels;
}

function rawUpdate(pixels: Uint8Array): Buffer {
  return Buffer.concat([encodeFramebufferUpdateHeader(1), encodeRectangleHeader({ x: 0, y: 0, width: WIDTH, height: HEIGHT, encoding: 0 }), pixels]);
}

/** A listener over a stand-in console session: `upstream` plays the BMC's RFB server through the stream plane. */
async function listen(): Promise<{ listener: VncListener; notices: string[]; upstream(bytes: Uint8Array): void }> {
  const notices: string[] = [];
  let events!: StreamSocketEvents;
  const listener = await openVncListener({
    host: '127.0.0.1',
    port: 0,
    viewOnly: true,
    openSession: async () => session,
    notice: (text) => notices.push(text),
    socket: (_url, _protocols, socketEvents) => {
      events = socketEvents;
      return { send: () => undefined, close: () => undefined };
    },
  });
  events.open();
  events.message(encodeStreamMessage({ type: 'resume', offset: 0 }));
  const upstream = (bytes: Uint8Array) => events.message(bytes);
  // The BMC's side of the handshake (what the fan-out answers goes nowhere) and its screen; each test sends the first full update.
  upstream(encodeProtocolVersion('3.8'));
  upstream(encodeSecurityTypes([1]));
  upstream(encodeSecurityResult({ kind: 'ok' }, '3.8'));
  upstream(encodeServerInit({ width: WIDTH, height: HEIGHT, pixelFormat: FANOUT_PIXEL_FORMAT, name: NAME }));
  return { listener, notices, upstream };
}

/** Every write the listener makes to one viewer's socket: the backlog each left, the listener's end of it, and a wait for a write. */
function watchViewerWrites(viewerPort: () => number | undefined): { backlogs: number[]; socket(): Socket | undefined; until(which: (bytes: Uint8Array) => boolean): Promise<void> } {
  const backlogs: number[] = [];
  const listenerEnds = new Set<Socket>();
  const waits: { which: (bytes: Uint8Array) => boolean; resolve: () => void }[] = [];
  const write = Socket.prototype.write;
  vi.spyOn(Socket.prototype, 'write').mockImplementation(function (this: Socket, ...args: Parameters<Socket['write']>) {
    const result = write.apply(this, args);
    if (this.remotePort !== undefined && this.remotePort === viewerPort()) {
      backlogs.push(this.writableLength);
      listenerEnds.add(this);
      for (const wait of waits) if (wait.which(args[0] as Uint8Array)) wait.resolve();
    }
    return result;
  });
  return { backlogs, socket: () => [...listenerEnds][0], until: (which) => new Promise((resolve) => waits.push({ which, resolve })) };
}

/** What a socket received, and a wait until it has received so many bytes. */
function reader(socket: Socket): { bytes(): Buffer; until(total: number): Promise<void> } {
  const chunks: Buffer[] = [];
  let length = 0;
  let wait: { total: number; resolve: () => void } | undefined;
  // A paused socket stays paused when a 'data' listener is added.
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    if (wait !== undefined && length >= wait.total) wait.resolve();
  });
  return {
    bytes: () => Buffer.concat(chunks),
    until: (total) => (length >= total ? Promise.resolve() : new Promise((resolve) => (wait = { total, resolve }))),
  };
}

/** A 3.8 viewer's whole side of the handshake, sent without reading a byte: version, security None, ClientInit (shared). */
const VIEWER_HELLO = Buffer.concat([Buffer.from('RFB 003.008\n'), Uint8Array.of(1), Uint8Array.of(1)]);
const GREETING_LENGTH = 12 + 2 + 4 + 24 + NAME.length;

describe('openVncListener: a viewer that asks much and reads nothing (RFC 6143 §7.5.3)', () => {
  let listener: VncListener | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await listener?.close();
    listener = undefined;
  });

  it('keeps at most one full update queued for it, and answers a flood of 100 requests with one merged update once it reads again', async () => {
    const opened = await listen();
    listener = opened.listener;
    const pixels = screen();
    opened.upstream(rawUpdate(pixels));
    const viewer = connect(listener.port, '127.0.0.1');
    viewer.pause();
    const received = reader(viewer);
    await once(viewer, 'connect');
    const writes = watchViewerWrites(() => viewer.localPort);
    const update = rawUpdate(pixels);
    const firstUpdate = writes.until((bytes) => bytes.length === update.length);
    const request = encodeClientMessage({ kind: 'update-request', incremental: false, x: 0, y: 0, width: WIDTH, height: HEIGHT });
    // 1,017 bytes: the hello and 100 requests for the whole screen (8 MiB each).
    viewer.write(Buffer.concat([VIEWER_HELLO, ...Array.from({ length: 100 }, () => request)]));
    // They arrive in one read and are all handled before that read's handler returns.
    await firstUpdate;
    expect(Math.max(...writes.backlogs)).toBeLessThanOrEqual(update.length);
    // More than the high-water mark unsent: the listener reads nothing more from it for now.
    expect(writes.socket()!.isPaused()).toBe(true);

    // Reading again, it gets the first update, then one for the other 99; a bell sent after them comes right behind.
    viewer.resume();
    const expected = GREETING_LENGTH + 2 * update.length;
    await received.until(expected);
    opened.upstream(encodeServerMessage({ kind: 'bell' }));
    await received.until(expected + 1);
    const bytes = received.bytes();
    expect(bytes.subarray(GREETING_LENGTH, GREETING_LENGTH + update.length).equals(update)).toBe(true);
    expect(bytes.subarray(GREETING_LENGTH + update.length, expected).equals(update)).toBe(true);
    expect(bytes.subarray(expected).toString('hex')).toBe('02');
    expect(writes.socket()!.isPaused()).toBe(false);
    viewer.destroy();
  });

  it('drops a viewer whose unsent bytes would pass the cap (the clipboard the BMC keeps sending), never holding more than the cap', async () => {
    const opened = await listen();
    listener = opened.listener;
    opened.upstream(rawUpdate(screen()));
    const viewer = connect(listener.port, '127.0.0.1');
    viewer.pause();
    viewer.on('error', () => undefined);
    const closed = once(viewer, 'close');
    await once(viewer, 'connect');
    const writes = watchViewerWrites(() => viewer.localPort);
    // ServerInit (24 bytes and the name) goes out once the hello is read.
    const serverInit = writes.until((bytes) => bytes.length === 24 + NAME.length);
    viewer.write(VIEWER_HELLO);
    await serverInit;
    const cap = viewerBacklogCap(WIDTH, HEIGHT);
    expect(cap).toBe(WIDTH * HEIGHT * 4 + 16 + VIEWER_BACKLOG_SLACK_BYTES);
    const clipboard = encodeServerMessage({ kind: 'cut-text', text: new Uint8Array(MAX_SERVER_CUT_TEXT) });
    for (let sent = 0; sent < Math.ceil((2 * cap) / clipboard.length); sent++) opened.upstream(clipboard);
    // Dropped as the bytes were handed over, not later.
    expect(opened.notices.join('')).toMatch(/VNC viewer 1 dropped: it is not reading/);
    expect(Math.max(...writes.backlogs)).toBeLessThanOrEqual(cap);
    // It sees the end once it reads what its socket had taken.
    viewer.resume();
    await closed;
    expect(listener.viewers()).toBe(0);
  });
});
