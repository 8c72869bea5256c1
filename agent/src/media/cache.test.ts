import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { MediaCache } from './cache.js';

const scratch = scratchDirectories('media-cache-');
afterEach(scratch.removeAll);

async function cacheOf(maxBytes: number): Promise<MediaCache> {
  const directory = scratch.make();
  const cache = new MediaCache({ directory, maxBytes });
  await cache.open();
  return cache;
}

function image(size: number): { bytes: Buffer; sha256: string } {
  const bytes = randomBytes(size);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Delivers the image in small chunks, as a network stream would. */
function chunked(bytes: Buffer): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < bytes.length; offset += 1000) yield bytes.subarray(offset, offset + 1000);
  })());
}

describe('MediaCache', () => {
  it('stores an image under its SHA-256 after verifying it', async () => {
    const cache = await cacheOf(1 << 20);
    const { bytes, sha256 } = image(10_000);
    const progress: number[] = [];
    const onDisk: number[] = [];
    await cache.ingest(sha256, bytes.length, chunked(bytes), (received) => {
      progress.push(received);
      const partial = readdirSync(cache.directory).find((name) => name.includes('.partial-'));
      onDisk.push(partial === undefined ? 0 : statSync(join(cache.directory, partial)).size);
    });
    expect(cache.has(sha256)).toBe(true);
    expect(readFileSync(cache.pathOf(sha256)).equals(bytes)).toBe(true);
    expect(progress.at(-1)).toBe(10_000);
    // progress is what the file holds when reported (an upload's offset is answered from it), rising
    progress.forEach((bytesReported, index) => expect(onDisk[index]).toBeGreaterThanOrEqual(bytesReported));
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('keeps nothing when the bytes do not match the hash', async () => {
    const cache = await cacheOf(1 << 20);
    const { bytes } = image(5000);
    const other = image(5000).sha256;
    await expect(cache.ingest(other, bytes.length, chunked(bytes))).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(cache.has(other)).toBe(false);
    expect(readdirSync(cache.directory)).toEqual([]);
  });

  it('refuses short and long streams', async () => {
    const cache = await cacheOf(1 << 20);
    const { bytes, sha256 } = image(5000);
    await expect(cache.ingest(sha256, 6000, chunked(bytes))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const long = chunked(bytes);
    await expect(cache.ingest(sha256, 4000, long)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    // read no further than the announced size: the source is let go at once
    expect(long.destroyed).toBe(true);
    expect(readdirSync(cache.directory)).toEqual([]);
  });

  it('evicts the least recently used unpinned image to make room', async () => {
    const cache = await cacheOf(25_000);
    const first = image(10_000);
    const second = image(10_000);
    const third = image(10_000);
    await cache.ingest(first.sha256, 10_000, chunked(first.bytes));
    await cache.ingest(second.sha256, 10_000, chunked(second.bytes));
    const release = cache.pin(first.sha256); // first is older but in use
    await cache.ingest(third.sha256, 10_000, chunked(third.bytes));
    expect(cache.has(first.sha256)).toBe(true);
    expect(cache.has(second.sha256)).toBe(false);
    expect(existsSync(cache.pathOf(second.sha256))).toBe(false);
    release();
    await cache.touch(third.sha256);
    const fourth = image(10_000);
    await cache.ingest(fourth.sha256, 10_000, chunked(fourth.bytes));
    expect(cache.has(first.sha256)).toBe(false);
    expect(cache.usedBytes).toBeLessThanOrEqual(25_000);
  });

  it('refuses an image larger than the cache, and one that cannot fit beside pinned images', async () => {
    const cache = await cacheOf(15_000);
    const big = image(20_000);
    await expect(cache.ingest(big.sha256, 20_000, chunked(big.bytes))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const held = image(10_000);
    await cache.ingest(held.sha256, 10_000, chunked(held.bytes));
    cache.pin(held.sha256);
    const next = image(10_000);
    await expect(cache.ingest(next.sha256, 10_000, chunked(next.bytes))).rejects.toMatchObject({ code: 'BMC_BUSY' });
  });

  it('shares one write between concurrent ingests of the same image', async () => {
    const cache = await cacheOf(1 << 20);
    const { bytes, sha256 } = image(50_000);
    let secondStreamRead = false;
    const second = Readable.from((function* () {
      secondStreamRead = true;
      yield bytes;
    })());
    await Promise.all([cache.ingest(sha256, bytes.length, chunked(bytes)), cache.ingest(sha256, bytes.length, second)]);
    expect(secondStreamRead).toBe(false);
    expect(cache.has(sha256)).toBe(true);
  });

  it('finds stored images after a restart and removes interrupted writes', async () => {
    const cache = await cacheOf(1 << 20);
    const { bytes, sha256 } = image(3000);
    await cache.ingest(sha256, 3000, chunked(bytes));
    writeFileSync(join(cache.directory, `${sha256.replace(/^./, 'a')}.partial-123456`), 'half');
    const reopened = new MediaCache({ directory: cache.directory, maxBytes: 1 << 20 });
    await reopened.open();
    expect(reopened.has(sha256)).toBe(true);
    expect(reopened.sizeOf(sha256)).toBe(3000);
    expect(readdirSync(cache.directory)).toEqual([`${sha256}.iso`]);
  });

  it('rejects names that are not a SHA-256 (no path traversal through the cache)', async () => {
    const cache = await cacheOf(1 << 20);
    expect(() => cache.pathOf('../../etc/passwd')).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    await expect(cache.ingest('../x', 1, chunked(Buffer.from('x')))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
