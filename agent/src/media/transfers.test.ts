import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AgentMediaTransfer } from '@lightsout/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MediaCache } from './cache.js';
import { MediaTransfers } from './transfers.js';

/**
 * Transfers per upload (transfers.ts): what `media.status` says of an upload
 * is its own transfer's state, never another upload's of the same image —
 * the relay marks an upload verified on "cached", so "cached" must mean
 * this upload's bytes were checked.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const image = randomBytes(3 * 1024 * 1024);
const sha256 = createHash('sha256').update(image).digest('hex');
const A = `/v1/agent/media/${'a1'.repeat(16)}`;
const B = `/v1/agent/media/${'b2'.repeat(16)}`;
const C = `/v1/agent/media/${'c3'.repeat(16)}`;

/**
 * A relay stand-in: A's pull is served whole; B's is cut after 1 MiB every time (its client went away); C's sends
 * 1 MiB and then waits for more of its client's bytes for ever (`onStalled` hears when the 1 MiB is sent).
 */
async function relay(onStalled?: () => void): Promise<string> {
  const server: Server = createServer((req, res) => {
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start > 0 ? 206 : 200, { 'content-length': image.length - start });
    if (req.url === B) return void res.write(image.subarray(start, start + 1024 * 1024), () => res.socket?.destroy());
    if (req.url === C) return void res.write(image.subarray(start, start + 1024 * 1024), () => onStalled?.());
    res.end(image.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Transfers into a fresh cache from the relay stand-in at `url`, one try per pull, with what they run in the background. */
async function transfersFrom(url: string) {
  const directory = mkdtempSync(join(tmpdir(), 'media-transfers-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  const cache = new MediaCache({ directory, maxBytes: 64 << 20 });
  await cache.open();
  const running = new Set<Promise<unknown>>();
  const transfers = new MediaTransfers(cache, {
    relay: () => url,
    logger: pino({ level: 'silent' }),
    signJwt: async () => 'token',
    track: (work) => running.add(work),
    resume: { attempts: 1, wait: async () => undefined },
  });
  return { directory, running, transfers };
}

describe('MediaTransfers, one per upload', () => {
  it('an upload cut short keeps its own state (partial, its bytes) after another upload of the same image was cached', { timeout: 30_000 }, async () => {
    const { directory, running, transfers } = await transfersFrom(await relay());
    const settled = (pullPath: string, states: AgentMediaTransfer['state'][]) =>
      vi.waitFor(() => expect(states).toContain(transfers.of(sha256, pullPath).state), { timeout: 20_000, interval: 5 });

    expect(transfers.fromRelay({ serverId: 's', sha256, size: image.length, pullPath: B })).toBe(false);
    await settled(B, ['partial', 'failed']);
    expect(transfers.of(sha256, B)).toMatchObject({ state: 'partial', bytes: 1024 * 1024 });

    expect(transfers.fromRelay({ serverId: 's', sha256, size: image.length, pullPath: A })).toBe(false);
    await settled(A, ['cached', 'failed']);
    expect(transfers.of(sha256, A)).toMatchObject({ state: 'cached', bytes: image.length });
    // the image is cached, but not from B's bytes: B is still only what its own file holds
    expect(transfers.of(sha256, B)).toMatchObject({ state: 'partial', bytes: 1024 * 1024 });
    expect(transfers.of(sha256)).toMatchObject({ state: 'cached' });

    // B asks again: the agent has the image (the relay then has B's client prove its bytes), and B's file is dropped
    expect(transfers.fromRelay({ serverId: 's', sha256, size: image.length, pullPath: B })).toBe(true);
    await Promise.allSettled([...running]);
    expect(readdirSync(directory)).toEqual([`${sha256}.iso`]);
  });

  it('a cached answer is `verified` only for the upload whose own bytes were checked, never for the hash alone', { timeout: 30_000 }, async () => {
    const { transfers } = await transfersFrom(await relay());
    const D = `/v1/agent/media/${'d4'.repeat(16)}`;
    transfers.fromRelay({ serverId: 's', sha256, size: image.length, pullPath: A });
    await vi.waitFor(() => expect(['cached', 'failed']).toContain(transfers.of(sha256, A).state), { timeout: 20_000, interval: 5 });
    expect(transfers.of(sha256, A)).toMatchObject({ state: 'cached', bytes: image.length, verified: true });
    // D never sent a byte: the image is there, but not from D's client
    expect(transfers.of(sha256, D)).toMatchObject({ state: 'cached', verified: false });
    // what the agent has of the image, asked without an upload, vouches for no one
    expect(transfers.of(sha256).verified).toBeUndefined();
  });

  it('the relay discards an upload it no longer has: a kept partial file goes at once; a running pull stops and its file goes', { timeout: 30_000 }, async () => {
    let stalled = false;
    const { directory, running, transfers } = await transfersFrom(await relay(() => (stalled = true)));
    const partialOf = (pullPath: string) => `${sha256}.upload-${pullPath.split('/').at(-1)}.part`;

    // B: cut every time; after its tries its file is kept for the next pull
    transfers.fromRelay({ serverId: 's', sha256, size: image.length, pullPath: B });
    await vi.waitFor(() => expect(transfers.of(sha256, B).state).toBe('partial'), { timeout: 20_000, interval: 5 });
    expect(readdirSync(directory)).toEqual([partialOf(B)]);
    expect(await transfers.discard(B)).toBe(true);
    expect(readdirSync(directory)).toEqual([]);
    expect(transfers.of(sha256, B).state).toBe('absent');
    expect(await transfers.discard(B)).toBe(false);

    // C: a pull waiting for its client's next bytes
    transfers.fromRelay({ serverId: 's', sha256, size: image.length, pullPath: C });
    await vi.waitFor(() => expect(stalled && transfers.of(sha256, C).bytes).toBe(1024 * 1024), { timeout: 20_000, interval: 5 });
    expect(readdirSync(directory)).toEqual([partialOf(C)]);
    expect(await transfers.discard(C)).toBe(true);
    await Promise.allSettled([...running]);
    expect(transfers.of(sha256, C)).toMatchObject({ state: 'failed', error: { code: 'NOT_FOUND' } });
    expect(readdirSync(directory)).toEqual([]);
    // a path that is not an upload's holds nothing to discard
    expect(await transfers.discard('/v1/agent/media/not-an-upload')).toBe(false);
  });
});
