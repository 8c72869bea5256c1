import { createHash } from 'node:crypto';
import { decodeServerStreamMessage, StreamClient, StreamCloseCode, StreamLimits, type StreamSocketFactory } from '@lightsout/shared';
import { waitFor } from '@lightsout/lab/wait';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { ServerEntry } from '../config/types.js';
import { startStreamWorld } from '../testing/stream-world.js';
import type { ConsolePort, ConsolePortEvents } from './ports/types.js';

/**
 * Console input toward a BMC side that does not keep up. The stream's
 * credit window (docs/streams.md, "Flow control") is what bounds the agent:
 * while the port buffers, acks are withheld, so an honest client stops at
 * its window; a client that sends past it broke the protocol and its
 * session ends, instead of the agent buffering whatever it is sent.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-09', name: 'sim-09', tenant: 'demo', rack: 'r1', labels: {} };
const window = StreamLimits.windowBytes;
/** Past the window by at most one frame: what a client that respects `write()` may overshoot by. */
const slack = StreamLimits.maxDataFrameBytes;

/** A BMC side that stopped reading: every write is buffered (false) and no drain ever comes. */
function stalledPort() {
  const state = { written: 0, closed: false };
  const openPort = async (): Promise<ConsolePort> => ({
    write: (bytes) => {
      state.written += bytes.length;
      return false;
    },
    sendBreak: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    close: () => void (state.closed = true),
  });
  return { state, openPort };
}

/** The relay's end of a leg, as a client that ignores acks would drive it. */
function rawClient(leg: WebSocket) {
  const state = { closeCode: undefined as number | undefined, errors: [] as string[] };
  leg.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return;
    const message = decodeServerStreamMessage(data.toString());
    if (message.type === 'error') state.errors.push(message.code);
  });
  leg.once('close', (code) => (state.closeCode = code));
  return state;
}

/** Sends `total` bytes in 64 KiB frames, stopping early if the leg closes. */
function flood(leg: WebSocket, total: number): void {
  const frame = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; sent += frame.length) leg.send(frame);
}

describe('console input past the stream window', () => {
  it('a client that ignores acks and sends two windows is ended with MALFORMED_MESSAGE; the port got at most a window', async () => {
    const port = stalledPort();
    const { streams, legs, open, stop } = await startStreamWorld(server, port.openPort);
    cleanups.push(stop);
    const sessionId = 'session-flood-input-01';
    await open(sessionId, { kind: 'serial' });
    const leg = legs[0]!;
    const client = rawClient(leg);
    leg.send(JSON.stringify({ type: 'resume', offset: 0 }));
    flood(leg, 2 * window);
    await waitFor(
      () => `the leg closed or the port took both windows (written ${port.state.written})`,
      () => client.closeCode !== undefined || port.state.written >= 2 * window,
    );
    expect(client.closeCode).toBe(StreamCloseCode.ENDED);
    expect(client.errors).toEqual(['MALFORMED_MESSAGE']);
    expect(port.state.written).toBeLessThanOrEqual(window + slack);
    expect(streams.hasSession(sessionId)).toBe(false);
    expect(port.state.closed).toBe(true);
  });

  it('a client that reconnects to get fresh credit while the port is backed up is ended at two windows', async () => {
    const port = stalledPort();
    const { streams, legs, open, stop } = await startStreamWorld(server, port.openPort);
    cleanups.push(stop);
    const sessionId = 'session-flood-input-02';
    await open(sessionId, { kind: 'serial' });
    const first = legs[0]!;
    first.send(JSON.stringify({ type: 'resume', offset: 0 }));
    // Exactly one window: within what the protocol allows.
    flood(first, window);
    await waitFor(() => `the port to take one window (written ${port.state.written})`, () => port.state.written >= window);
    expect(rawClient(first).closeCode).toBeUndefined();
    first.terminate();
    // A new leg: the agent's resume tells the client it holds everything, which a client reads as a fresh window.
    await waitFor('the agent to notice the leg is gone', async () => {
      await open(sessionId, { kind: 'serial', resume: true });
      return true;
    });
    const second = legs[1]!;
    const client = rawClient(second);
    second.send(JSON.stringify({ type: 'resume', offset: 0 }));
    flood(second, 3 * window);
    await waitFor(
      () => `the leg closed or the port took four windows (written ${port.state.written})`,
      () => client.closeCode !== undefined || port.state.written >= 4 * window,
    );
    expect(client.closeCode).toBe(StreamCloseCode.ENDED);
    expect(client.errors).toEqual(['MALFORMED_MESSAGE']);
    expect(port.state.written).toBeLessThanOrEqual(2 * window + slack);
    expect(streams.hasSession(sessionId)).toBe(false);
  });

  it('an honest client against a slow port loses nothing, in order, and is not closed', async () => {
    // A BMC side that takes 128 KiB a millisecond and buffers 64 KiB before it says "wait".
    const received = createHash('sha256');
    const state = { written: 0, pending: 0, needDrain: false };
    let events!: ConsolePortEvents;
    let timer: NodeJS.Timeout | undefined;
    const openPort = async (_server: ServerEntry, _kind: unknown, portEvents: ConsolePortEvents): Promise<ConsolePort> => {
      events = portEvents;
      timer = setInterval(() => {
        state.pending = Math.max(0, state.pending - 128 * 1024);
        if (state.needDrain && state.pending < 64 * 1024) {
          state.needDrain = false;
          events.drain();
        }
      }, 1);
      return {
        write: (bytes) => {
          received.update(bytes);
          state.written += bytes.length;
          state.pending += bytes.length;
          if (state.pending >= 64 * 1024) state.needDrain = true;
          return !state.needDrain;
        },
        sendBreak: () => undefined,
        pause: () => undefined,
        resume: () => undefined,
        close: () => clearInterval(timer),
      };
    };
    const { streams, legs, open, stop } = await startStreamWorld(server, openPort);
    cleanups.push(stop, () => clearInterval(timer));
    const sessionId = 'session-honest-input-01';
    await open(sessionId, { kind: 'serial' });
    const leg = legs[0]!;
    let closedWith: number | undefined;
    // The StreamClient itself over the relay's end of the leg: it respects the window and waits for acks.
    const socket: StreamSocketFactory = (_url, _protocols, socketEvents) => {
      leg.on('message', (data: Buffer, isBinary) => socketEvents.message(isBinary ? new Uint8Array(data) : data.toString()));
      leg.once('close', (code, reason) => socketEvents.close(code, reason.toString()));
      queueMicrotask(() => socketEvents.open());
      return { send: (data) => leg.send(data), close: (code, reason) => leg.close(code, reason) };
    };
    let drained: (() => void) | undefined;
    const client = new StreamClient({
      streamUrl: 'ws://unused',
      token: 'unused',
      socket,
      setTimer: (callback, ms) => {
        const handle = setTimeout(callback, ms);
        return () => clearTimeout(handle);
      },
      onData: () => undefined,
      onDrain: () => drained?.(),
      onClose: (code) => (closedWith = code),
    });
    cleanups.push(() => client.close());
    await waitFor('the client streaming', () => client.state === 'streaming');
    const total = 3 * window;
    const sent = createHash('sha256');
    const pieceBytes = 64 * 1024;
    for (let offset = 0; offset < total; offset += pieceBytes) {
      // A new buffer each time: the socket may still hold the last one.
      const piece = Buffer.alloc(pieceBytes, offset / pieceBytes);
      sent.update(piece);
      if (!client.write(piece)) await new Promise<void>((resolve) => (drained = resolve));
    }
    await waitFor(() => `the port to take all ${total} bytes (written ${state.written})`, () => state.written === total);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    expect(closedWith).toBeUndefined();
    expect(streams.hasSession(sessionId)).toBe(true);
  });
});
