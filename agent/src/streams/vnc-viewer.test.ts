import { Duplex } from 'node:stream';
import { encodeClientMessage } from '@lightsout/bmc-wire/rfb';
import { startPeers, startX11vnc, stopPeers, type VncPeer } from '@lightsout/lab/vnc';
import { waitFor } from '@lightsout/lab/wait';
import { decodeServerStreamMessage, StreamCloseCode } from '@lightsout/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { ServerEntry } from '../config/types.js';
import { openRfbPort } from '../rfb/console-port.js';
import { type ScriptedServer, startScriptedServer } from '../testing/rfb-scripted-server.js';
import { viewFirstFrame } from '../testing/rfb-test-client.js';
import { startStreamWorld } from '../testing/stream-world.js';
import type { ConsolePortOpener } from './ports/types.js';

/**
 * VNC sessions through the agent's stream plane. A viewer (a `view`
 * session, what the relay opens by default) still speaks RFB: its
 * handshake, pixel format, encodings and update requests reach the BMC, and
 * only what would act on the console (keys, pointer, clipboard) is dropped.
 * Every session's ClientInit reaches the BMC as shared (RFC 6143 §7.3.1: a
 * non-shared one makes the server disconnect every other client).
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let peers: { x11vnc: VncPeer } | undefined;
beforeAll(async () => {
  peers = await startPeers({ x11vnc: () => startX11vnc() });
});
afterAll(() => stopPeers(peers));

const server: ServerEntry = { id: 'sim-10', name: 'sim-10', tenant: 'demo', rack: 'r1', labels: {} };

const vncPort =
  (url: string): ConsolePortOpener =>
  async (_server, _kind, events) =>
    openRfbPort({ url }, events);

/** The relay's end of a leg as a byte stream: binary frames both ways, after the client's resume. */
function legStream(leg: WebSocket) {
  const errors: string[] = [];
  const state = { closeCode: undefined as number | undefined };
  const stream = new Duplex({
    read: () => undefined,
    write: (chunk: Buffer, _encoding, callback) => {
      leg.send(chunk);
      callback();
    },
  });
  leg.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return void stream.push(data);
    const message = decodeServerStreamMessage(data.toString());
    if (message.type === 'error') errors.push(message.code);
  });
  leg.once('close', (code) => {
    state.closeCode = code;
    stream.push(null);
  });
  leg.send(JSON.stringify({ type: 'resume', offset: 0 }));
  return { stream, errors, state };
}

/** A BMC's VNC server (None, RFB 3.8) that sends ServerInit and one 1×1 update, then records everything after ClientInit. */
async function scriptedBmc(): Promise<ScriptedServer & { afterHandshake(): Buffer }> {
  const bmc = await startScriptedServer(async (socket, next) => {
    socket.write('RFB 003.008\n');
    await next(12);
    socket.write(Buffer.of(1, 1));
    await next(1);
    socket.write(Buffer.alloc(4)); // SecurityResult OK
    await next(1); // ClientInit
    // ServerInit: 1×1, 32 bpp true colour, name "bmc" (§7.3.2)
    const init = Buffer.alloc(24 + 3);
    init.writeUInt16BE(1, 0);
    init.writeUInt16BE(1, 2);
    Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0]).copy(init, 4);
    init.writeUInt32BE(3, 20);
    init.write('bmc', 24);
    socket.write(init);
    await next(20 + 8 + 10); // SetPixelFormat, SetEncodings, FramebufferUpdateRequest
    const update = Buffer.alloc(4 + 12 + 4);
    update.writeUInt16BE(1, 2);
    update.writeUInt16BE(1, 8);
    update.writeUInt16BE(1, 10);
    Buffer.of(0x97, 0x6f, 0x2a, 0).copy(update, 16);
    socket.write(update);
    // Keep recording until the agent hangs up.
    await next(Number.MAX_SAFE_INTEGER);
  });
  cleanups.push(() => bmc.close());
  return Object.assign(bmc, { afterHandshake: () => Buffer.concat(bmc.received[0] ?? []).subarray(12 + 1) });
}

const setPixelFormat = encodeClientMessage({
  kind: 'set-pixel-format',
  format: { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 },
});
const setEncodings = encodeClientMessage({ kind: 'set-encodings', encodings: [0] });
const fullRequest = encodeClientMessage({ kind: 'update-request', incremental: false, x: 0, y: 0, width: 1, height: 1 });
const laterRequest = encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: 1, height: 1 });

/** Runs the client side of the handshake by hand, with `clientInit` as the shared flag, up to ServerInit. */
async function handshake(stream: Duplex, clientInit: number): Promise<void> {
  const reader = collect(stream);
  await reader.until(12);
  stream.write('RFB 003.008\n');
  await reader.until(12 + 2);
  stream.write(Uint8Array.of(1));
  await reader.until(12 + 2 + 4);
  stream.write(Uint8Array.of(clientInit));
  await reader.until(12 + 2 + 4 + 24 + 3);
}

function collect(stream: Duplex) {
  const chunks: Buffer[] = [];
  const waiters = new Set<() => void>();
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    for (const wake of waiters) wake();
  });
  return {
    until: (length: number) =>
      waitFor(
        () => `${length} bytes from the agent (${Buffer.concat(chunks).length} so far)`,
        () => Buffer.concat(chunks).length >= length,
        { wake: (wake) => (waiters.add(wake), () => waiters.delete(wake)) },
      ),
  };
}

describe('a view-only VNC session', () => {
  it('gets ServerInit and a framebuffer update from a real VNC server (x11vnc)', async () => {
    const peer = peers!.x11vnc;
    const { legs, open, stop } = await startStreamWorld(server, vncPort(peer.url));
    cleanups.push(stop);
    await open('session-vnc-viewer-01', { kind: 'vnc', mode: 'view' });
    const { stream } = legStream(legs[0]!);
    const view = await viewFirstFrame(stream);
    expect(view.serverInit).toMatchObject({ width: peer.width, height: peer.height });
    expect(view.framebuffer.length).toBe(peer.width * peer.height * 4);
  });

  it('passes its handshake, pixel format, encodings and update requests byte-exact; no key, pointer or clipboard reaches the BMC', async () => {
    const bmc = await scriptedBmc();
    const { legs, open, stop } = await startStreamWorld(server, vncPort(bmc.url));
    cleanups.push(stop);
    await open('session-vnc-viewer-02', { kind: 'vnc', mode: 'view' });
    const { stream, state } = legStream(legs[0]!);
    await handshake(stream, 1);
    stream.write(Buffer.concat([setPixelFormat, setEncodings, fullRequest]));
    stream.write(encodeClientMessage({ kind: 'key', down: true, keysym: 0x61 }));
    stream.write(encodeClientMessage({ kind: 'pointer', buttons: 1, x: 0, y: 0 }));
    // A clipboard cut into pieces, and an update request in the same frame as its tail.
    const cut = encodeClientMessage({ kind: 'cut-text', text: new TextEncoder().encode('rm -rf /') });
    stream.write(cut.subarray(0, 5));
    stream.write(Buffer.concat([cut.subarray(5), encodeClientMessage({ kind: 'key', down: false, keysym: 0x61 }), laterRequest]));
    const expected = Buffer.concat([Uint8Array.of(1), setPixelFormat, setEncodings, fullRequest, laterRequest]);
    await waitFor(() => `the BMC to receive ${expected.length} bytes after the handshake (${bmc.afterHandshake().length} so far)`, () => bmc.afterHandshake().length >= expected.length);
    expect(bmc.afterHandshake().toString('hex')).toBe(expected.toString('hex'));
    expect(state.closeCode).toBeUndefined();
  });

  it('is ended with MALFORMED_MESSAGE on a message type it cannot delimit; nothing of it reaches the BMC', async () => {
    const bmc = await scriptedBmc();
    const { streams, legs, open, stop } = await startStreamWorld(server, vncPort(bmc.url));
    cleanups.push(stop);
    await open('session-vnc-viewer-03', { kind: 'vnc', mode: 'view' });
    const { stream, state, errors } = legStream(legs[0]!);
    await handshake(stream, 1);
    // 149: no RFB client message has it, so nothing after it can be delimited.
    stream.write(Uint8Array.of(149, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e));
    await waitFor('the leg to close', () => state.closeCode !== undefined);
    expect(state.closeCode).toBe(StreamCloseCode.ENDED);
    expect(errors).toEqual(['MALFORMED_MESSAGE']);
    expect(streams.hasSession('session-vnc-viewer-03')).toBe(false);
    expect(bmc.afterHandshake().toString('hex')).toBe('01');
  });
});

describe('ClientInit', () => {
  for (const mode of ['control', 'view'] as const) {
    it(`a ${mode} session asking for exclusive access (shared 0) reaches the BMC as shared (1)`, async () => {
      const bmc = await scriptedBmc();
      const { legs, open, stop } = await startStreamWorld(server, vncPort(bmc.url));
      cleanups.push(stop);
      await open(`session-vnc-shared-${mode}`, { kind: 'vnc', mode });
      const { stream } = legStream(legs[0]!);
      await handshake(stream, 0);
      expect(bmc.afterHandshake().toString('hex')).toBe('01');
    });
  }

  it("a controlling session's key and pointer events pass on untouched", async () => {
    const bmc = await scriptedBmc();
    const { legs, open, stop } = await startStreamWorld(server, vncPort(bmc.url));
    cleanups.push(stop);
    await open('session-vnc-control-01', { kind: 'vnc', mode: 'control' });
    const { stream } = legStream(legs[0]!);
    await handshake(stream, 1);
    const key = encodeClientMessage({ kind: 'key', down: true, keysym: 0x61 });
    const pointer = encodeClientMessage({ kind: 'pointer', buttons: 1, x: 0, y: 0 });
    stream.write(Buffer.concat([setPixelFormat, setEncodings, fullRequest, key, pointer]));
    const expected = Buffer.concat([Uint8Array.of(1), setPixelFormat, setEncodings, fullRequest, key, pointer]);
    await waitFor(() => `the BMC to receive ${expected.length} bytes after the handshake`, () => bmc.afterHandshake().length >= expected.length);
    expect(bmc.afterHandshake().toString('hex')).toBe(expected.toString('hex'));
  });
});
