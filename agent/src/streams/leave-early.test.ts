import { afterEach, describe, expect, it } from 'vitest';
import type { ServerEntry } from '../config/types.js';
import { startStreamWorld } from '../testing/stream-world.js';
import type { ConsolePort } from './ports/types.js';

/**
 * `~.` before the stream attached: the relay sends `stream.close` while the
 * agent is still opening the BMC side (SOL activation takes round trips).
 * The session ends at once, and the console the open then brings up is let
 * go as soon as it is up — not held until someone else joins and leaves.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-08', name: 'sim-08', tenant: 'demo', rack: 'r1', labels: {} };

describe('leaving before the stream attached', () => {
  it('stream.close during the BMC open ends the session, and the opened console is closed once it is up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let portClosed!: () => void;
    const closed = new Promise<void>((resolve) => (portClosed = resolve));
    const openPort = async (): Promise<ConsolePort> => {
      await gate;
      return { write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => portClosed() };
    };
    const { streams, legs, open, request, stop } = await startStreamWorld(server, openPort);
    cleanups.push(stop);
    const sessionId = 'session-left-early-01';
    const opening = open(sessionId, { legId: 'leg-left-early', subject: 'u', user: 'u' }).catch((error: unknown) => error);
    expect(streams.hasSession(sessionId)).toBe(true);
    await request('stream.close', { sessionId });
    // Ended now, not when the grace period (60 s here) runs out.
    expect(streams.hasSession(sessionId)).toBe(false);
    release();
    await closed;
    // Nothing dials back for a session that is over.
    expect(await opening).toMatchObject({ code: 'NOT_FOUND' });
    expect(legs).toHaveLength(0);
  });
});
