import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LightsoutError } from '@lightsout/shared';

/**
 * The agent's image cache: files named by their SHA-256, so the same ISO
 * mounted on fifty servers crosses the WAN once. Least recently used images
 * are evicted to stay under the size cap; images in use (mounted or being
 * served) are pinned and never evicted. Writes go to a temporary file, are
 * hashed on the way, and appear under their name only when the hash matches.
 */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
/** Lets the file stream gather many network reads into one writev while a write is in flight. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

export interface MediaCacheOptions {
  directory: string;
  maxBytes: number;
}

interface Entry {
  size: number;
  lastUsed: number;
}

export class MediaCache {
  readonly directory: string;
  readonly maxBytes: number;
  private readonly entries = new Map<string, Entry>();
  private readonly pins = new Map<string, number>();
  private readonly writing = new Map<string, Promise<void>>();
  private reservedBytes = 0;

  constructor(options: MediaCacheOptions) {
    this.directory = options.directory;
    this.maxBytes = options.maxBytes;
  }

  /** Scans the directory; leftovers of interrupted writes are removed. */
  async open(): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.directory)) {
      const path = join(this.directory, name);
      const match = /^([0-9a-f]{64})\.iso$/.exec(name);
      if (!match) {
        if (name.includes('.partial-')) await rm(path, { force: true });
        continue;
      }
      const info = await stat(path);
      this.entries.set(match[1]!, { size: info.size, lastUsed: info.mtimeMs });
    }
  }

  get usedBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.size;
    return total;
  }

  has(sha256: string): boolean {
    return this.entries.has(sha256);
  }

  sizeOf(sha256: string): number | undefined {
    return this.entries.get(sha256)?.size;
  }

  list(): { sha256: string; size: number; lastUsed: number; pinned: boolean }[] {
    return [...this.entries].map(([sha256, entry]) => ({ sha256, ...entry, pinned: (this.pins.get(sha256) ?? 0) > 0 }));
  }

  pathOf(sha256: string): string {
    assertSha256(sha256);
    return join(this.directory, `${sha256}.iso`);
  }

  /** Marks an image as in use; returns the release function. */
  pin(sha256: string): () => void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.pins.get(sha256) ?? 1) - 1;
      if (count <= 0) this.pins.delete(sha256);
      else this.pins.set(sha256, count);
    };
  }

  /** Records a use for LRU order (the mtime survives an agent restart). */
  async touch(sha256: string): Promise<void> {
    const entry = this.entries.get(sha256);
    if (!entry) return;
    entry.lastUsed = Date.now();
    const seconds = entry.lastUsed / 1000;
    await utimes(this.pathOf(sha256), seconds, seconds).catch(() => undefined);
  }

  openRead(sha256: string, range?: { start: number; end: number }): Readable {
    // large reads: BMCs fetch hundreds of MiB sequentially
    return createReadStream(this.pathOf(sha256), { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  /**
   * Stores `source` as `sha256`, streaming with backpressure. Rejects with
   * CHECKSUM_MISMATCH (nothing kept) when the bytes hash differently, and with
   * PAYLOAD_TOO_LARGE when it can never fit. Concurrent ingests of the same
   * image share one write.
   */
  async ingest(sha256: string, size: number, source: Readable | AsyncIterable<Uint8Array>, onProgress?: (bytes: number) => void): Promise<void> {
    assertSha256(sha256);
    if (this.entries.has(sha256)) return;
    const running = this.writing.get(sha256);
    if (running) return running;
    const write = this.write(sha256, size, source, onProgress).finally(() => this.writing.delete(sha256));
    this.writing.set(sha256, write);
    return write;
  }

  private async write(sha256: string, size: number, source: Readable | AsyncIterable<Uint8Array>, onProgress?: (bytes: number) => void): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new LightsoutError('VALIDATION_FAILED', 'image size must be a non-negative integer');
    if (size > this.maxBytes) {
      throw new LightsoutError('PAYLOAD_TOO_LARGE', `image of ${size} bytes exceeds the agent media cache of ${this.maxBytes} bytes`);
    }
    await this.makeRoom(size);
    this.reservedBytes += size;
    const temporary = join(this.directory, `${sha256}.partial-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let received = 0;
    const meter = new Transform({
      highWaterMark: WRITE_BUFFER_BYTES,
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.byteLength;
        if (received > size) return callback(new LightsoutError('VALIDATION_FAILED', `image is longer than the announced ${size} bytes`));
        hash.update(chunk);
        onProgress?.(received);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(temporary, { mode: 0o600, highWaterMark: WRITE_BUFFER_BYTES }));
      if (received !== size) throw new LightsoutError('VALIDATION_FAILED', `image ended after ${received} of ${size} bytes`);
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new LightsoutError('CHECKSUM_MISMATCH', 'image bytes do not match their SHA-256', { details: { expected: sha256, actual } });
      await rename(temporary, this.pathOf(sha256));
      this.entries.set(sha256, { size, lastUsed: Date.now() });
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    } finally {
      this.reservedBytes -= size;
    }
  }

  /** Evicts unpinned images, least recently used first, until `bytes` more fit. */
  private async makeRoom(bytes: number): Promise<void> {
    const candidates = [...this.entries].filter(([sha256]) => !this.pins.has(sha256)).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [sha256] of candidates) {
      if (this.usedBytes + this.reservedBytes + bytes <= this.maxBytes) return;
      this.entries.delete(sha256);
      await rm(this.pathOf(sha256), { force: true });
    }
    if (this.usedBytes + this.reservedBytes + bytes > this.maxBytes) {
      throw new LightsoutError('BMC_BUSY', 'the agent media cache is full of images in use', {
        hint: 'Eject media from other servers or raise media.cacheBytes on the agent.',
      });
    }
  }
}

export function assertSha256(sha256: string): void {
  if (!SHA256_PATTERN.test(sha256)) throw new LightsoutError('VALIDATION_FAILED', 'an image is named by its SHA-256 in lower-case hex');
}
