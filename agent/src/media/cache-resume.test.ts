import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MediaCache, type ResumePolicy } from './cache.js';

/**
 * A cut relay → agent transfer continues from what reached the disk, over a
 * real HTTP connection (node:http serving Range like the relay's pull route,
 * undici on the agent side as in MediaService.pull).
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const bytes = randomBytes(3 * 1024 * 1024 + 17);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const noWait: ResumePolicy = { attempts: 6, wait: async () => undefined };

async function cacheOf(): Promise<MediaCache> {
  const directory = mkdtempSync(join(tmpdir(), 'media-resume-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  const cache = new MediaCache({ directory, maxBytes: 64 << 20 });
  await cache.open();
  return cache;
}

/** Serves `body` with `Range: bytes=N-`; the first `cuts` requests are cut (socket destroyed) after `cutAfter` bytes of body. */
async function relayLike(body: Buffer, options: { cuts: number; cutAfter: number; status?: (index: number) => number | undefined }) {
  const ranges: (string | null)[] = [];
  let sentBytes = 0;
  const server: Server = createServer((req, res) => {
    const index = ranges.push(req.headers.range ?? null) - 1;
    const forced = options.status?.(index);
    if (forced) return res.writeHead(forced).end('refused');
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start > 0 ? 206 : 200, { 'content-length': body.length - start, ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    const rest = body.subarray(start);
    if (index < options.cuts) {
      sentBytes += options.cutAfter;
      res.write(rest.subarray(0, options.cutAfter), () => res.socket?.destroy());
      return;
    }
    sentBytes += rest.length;
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agent/media/u1`;
  const open = async (offset: number) => {
    const response = await request(url, { headers: offset > 0 ? { range: `bytes=${offset}-` } : {} });
    if (response.statusCode !== (offset > 0 ? 206 : 200)) {
      await response.body.dump();
      throw new LightsoutError('AGENT_OFFLINE', `relay refused the image transfer: HTTP ${response.statusCode}`);
    }
    return response.body;
  };
  return { open, ranges, sent: () => sentBytes };
}

describe('MediaCache resumable ingest', () => {
  it('continues a transfer cut twice from where the disk ends, and verifies the whole image', async () => {
    const cache = await cacheOf();
    const relay = await relayLike(bytes, { cuts: 2, cutAfter: 1024 * 1024 });
    const progress: number[] = [];
    await cache.ingest(sha256, bytes.length, relay.open, (received) => progress.push(received), noWait);

    expect(createHash('sha256').update(readFileSync(cache.pathOf(sha256))).digest('hex')).toBe(sha256);
    expect(relay.ranges).toHaveLength(3);
    expect(relay.ranges[0]).toBeNull();
    // Every byte received is kept, even those still in a buffer when the connection broke: each try starts exactly where the last was cut, nothing is fetched twice.
    expect(relay.ranges.slice(1)).toEqual([`bytes=${1024 * 1024}-`, `bytes=${2 * 1024 * 1024}-`]);
    expect(relay.sent()).toBe(bytes.length);
    expect(progress.at(-1)).toBe(bytes.length);
    expect(readdirSync(join(cache.pathOf(sha256), '..')).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  it('keeps the bytes a source delivered faster than the disk took them when it breaks', async () => {
    const cache = await cacheOf();
    const offsets: number[] = [];
    // Delivered in a burst and broken at once: the bytes are still on their way to the file when the error comes.
    const open = async (offset: number) => {
      const cut = offsets.push(offset) <= 2 ? offset + 1024 * 1024 : bytes.length;
      return (async function* () {
        for (let at = offset; at < cut; at += 64 * 1024) yield bytes.subarray(at, Math.min(cut, at + 64 * 1024));
        if (cut < bytes.length) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
      })();
    };
    await cache.ingest(sha256, bytes.length, open, undefined, noWait);
    expect(offsets).toEqual([0, 1024 * 1024, 2 * 1024 * 1024]);
    expect(createHash('sha256').update(readFileSync(cache.pathOf(sha256))).digest('hex')).toBe(sha256);
  });

  it('gives up after its attempts, keeping nothing', async () => {
    const cache = await cacheOf();
    const relay = await relayLike(bytes, { cuts: 10, cutAfter: 256 * 1024 });
    await expect(cache.ingest(sha256, bytes.length, relay.open, undefined, { attempts: 3, wait: async () => undefined })).rejects.toBeDefined();
    expect(relay.ranges).toHaveLength(3);
    expect(cache.has(sha256)).toBe(false);
    expect(readdirSync(join(cache.pathOf(sha256), '..'))).toEqual([]);
  });

  it('does not retry a refusal (the relay withdrew the grant) or wrong bytes', async () => {
    const cache = await cacheOf();
    const refusing = await relayLike(bytes, { cuts: 1, cutAfter: 512 * 1024, status: (index) => (index === 1 ? 403 : undefined) });
    await expect(cache.ingest(sha256, bytes.length, refusing.open, undefined, noWait)).rejects.toMatchObject({ code: 'AGENT_OFFLINE' });
    expect(refusing.ranges).toHaveLength(2);

    const corrupted = Buffer.from(bytes);
    corrupted[100] ^= 0xff;
    const lying = await relayLike(corrupted, { cuts: 0, cutAfter: 0 });
    await expect(cache.ingest(sha256, bytes.length, lying.open, undefined, noWait)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(lying.ranges).toHaveLength(1);
    expect(cache.has(sha256)).toBe(false);
  });

  it('does not retry when its own disk fails (the cache directory vanished): that would fail again', async () => {
    const cache = await cacheOf();
    const relay = await relayLike(bytes, { cuts: 0, cutAfter: 0 });
    let opened = 0;
    const open = async (offset: number) => {
      opened += 1;
      rmSync(cache.directory, { recursive: true, force: true });
      return relay.open(offset);
    };
    await expect(cache.ingest(sha256, bytes.length, open, undefined, noWait)).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(opened).toBe(1);
  });
});

describe('MediaCache: an upload\'s partial file', () => {
  const upload = 'ab'.repeat(16);
  const other = 'cd'.repeat(16);

  it('outlives a cut that used up its tries and a new cache on the same directory (an agent restart): the next ingest continues where the file ends, re-hashing what it holds', async () => {
    const cache = await cacheOf();
    const relay = await relayLike(bytes, { cuts: 10, cutAfter: 1024 * 1024 });
    await expect(cache.ingest(sha256, bytes.length, relay.open, undefined, { attempts: 1, wait: async () => undefined }, upload)).rejects.toBeDefined();
    expect(cache.partialOf(upload)).toMatchObject({ sha256, bytes: 1024 * 1024 });
    expect(readdirSync(cache.directory)).toEqual([`${sha256}.upload-${upload}.part`]);

    const restarted = new MediaCache({ directory: cache.directory, maxBytes: 64 << 20 });
    await restarted.open();
    expect(restarted.partialOf(upload)).toMatchObject({ sha256, bytes: 1024 * 1024 });
    const rest = await relayLike(bytes, { cuts: 0, cutAfter: 0 });
    const progress: number[] = [];
    await restarted.ingest(sha256, bytes.length, rest.open, (received) => progress.push(received), noWait, upload);
    expect(rest.ranges).toEqual([`bytes=${1024 * 1024}-`]);
    expect(progress[0]).toBe(1024 * 1024);
    expect(createHash('sha256').update(readFileSync(restarted.pathOf(sha256))).digest('hex')).toBe(sha256);
    expect(restarted.partialOf(upload)).toBeUndefined();
    expect(readdirSync(cache.directory)).toEqual([`${sha256}.iso`]);
  });

  it('a kept prefix that is not the image fails the whole image (the SHA-256 covers it) and the file goes', async () => {
    const cache = await cacheOf();
    writeFileSync(join(cache.directory, `${sha256}.upload-${upload}.part`), randomBytes(1024 * 1024));
    const restarted = new MediaCache({ directory: cache.directory, maxBytes: 64 << 20 });
    await restarted.open();
    const relay = await relayLike(bytes, { cuts: 0, cutAfter: 0 });
    await expect(restarted.ingest(sha256, bytes.length, relay.open, undefined, noWait, upload)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(readdirSync(cache.directory)).toEqual([]);
  });

  it('is removed when the relay no longer has the upload, when it is older than the TTL, and to make room for another image', async () => {
    const cache = await cacheOf();
    const gone = async () => {
      throw new LightsoutError('NOT_FOUND', 'the relay no longer has this upload');
    };
    writeFileSync(join(cache.directory, `${sha256}.upload-${upload}.part`), bytes.subarray(0, 1024));
    await cache.open();
    await expect(cache.ingest(sha256, bytes.length, gone, undefined, noWait, upload)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(readdirSync(cache.directory)).toEqual([]);

    const stale = join(cache.directory, `${sha256}.upload-${other}.part`);
    writeFileSync(stale, bytes.subarray(0, 1024));
    utimesSync(stale, new Date(Date.now() - 3 * 3600_000), new Date(Date.now() - 3 * 3600_000));
    const restarted = new MediaCache({ directory: cache.directory, maxBytes: 4 << 20, partialTtlMs: 2 * 3600_000 });
    await restarted.open();
    expect(restarted.partialOf(other)).toBeUndefined();
    expect(readdirSync(cache.directory)).toEqual([]);
    // and while the agent runs: the next write removes a file not written for longer than the TTL
    const running = new MediaCache({ directory: cache.directory, maxBytes: 64 << 20, partialTtlMs: 2 * 3600_000 });
    writeFileSync(stale, bytes.subarray(0, 1024));
    await running.open();
    expect(running.partialOf(other)).toBeDefined();
    const fresh = randomBytes(1024);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3 * 3600_000 });
    try {
      await running.ingest(createHash('sha256').update(fresh).digest('hex'), fresh.length, (async function* () {
        yield fresh;
      })());
    } finally {
      vi.useRealTimers();
    }
    expect(running.partialOf(other)).toBeUndefined();
    expect(readdirSync(cache.directory).filter((name) => name.endsWith('.part'))).toEqual([]);
    rmSync(running.pathOf(createHash('sha256').update(fresh).digest('hex')));

    // an abandoned upload's 3 MiB in a 4 MiB cache: another image of 3 MiB takes its place
    writeFileSync(join(cache.directory, `${sha256}.upload-${other}.part`), bytes.subarray(0, 3 * 1024 * 1024));
    const small = new MediaCache({ directory: cache.directory, maxBytes: 4 << 20 });
    await small.open();
    const image = randomBytes(3 * 1024 * 1024);
    const imageSha = createHash('sha256').update(image).digest('hex');
    await small.ingest(imageSha, image.length, (async function* () {
      yield image;
    })());
    expect(small.partialOf(other)).toBeUndefined();
    expect(readdirSync(cache.directory)).toEqual([`${imageSha}.iso`]);
  });
});
