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

/** A relay stand-in: A's pull is served whole; B's is cut after 1 MiB every time (its client went away). */
async function relay(): Promise<string> {
  const server: Server = createServer((req, res) => {
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start > 0 ? 206 : 200, { 'content-length': image.length - start });
    if (req.url === B) return void res.write(image.subarray(start, start + 1024 * 1024), () => res.socket?.destroy());
    res.end(image.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('MediaTransfers, one per upload', () => {
  it('an upload cut short keeps its own state (partial, its bytes) after another upload of the same image was cached', { timeout: 30_000 }, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'media-transfers-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const cache = new MediaCache({ directory, maxBytes: 64 << 20 });
    await cache.open();
    const url = await relay();
    const running = new Set<Promise<unknown>>();
    const transfers = new MediaTransfers(cache, {
      relay: () => url,
      logger: pino({ level: 'silent' }),
      signJwt: async () => 'token',
      track: (work) => running.add(work),
      resume: { attempts: 1, wait: async () => undefined },
    });
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
});
