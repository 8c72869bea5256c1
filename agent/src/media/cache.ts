import { type Hash, createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
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
   *
   * `source` may be a function that opens the image from a byte offset (an
   * HTTP Range request): then a transfer cut midway (a connection reset, a
   * body that ends early) continues from what reached the disk, up to
   * `resume.attempts` times — a 4 GiB ISO crossing a WAN does not start over
   * at 90 %. Wrong bytes (a hash mismatch, a body longer than announced)
   * are never retried.
   */
  async ingest(sha256: string, size: number, source: ImageSource, onProgress?: (bytes: number) => void, resume: ResumePolicy = DEFAULT_RESUME): Promise<void> {
    assertSha256(sha256);
    if (this.entries.has(sha256)) return;
    const running = this.writing.get(sha256);
    if (running) return running;
    const write = this.write(sha256, size, source, onProgress, resume)
      .then(() => undefined)
      .finally(() => this.writing.delete(sha256));
    this.writing.set(sha256, write);
    return write;
  }

  /**
   * Stores an image whose SHA-256 is known only once all of it is in (an
   * image fetched by URL): hashed on the way as `ingest` does, resumed the
   * same way, and named by its hash at the end. Bytes the cache holds
   * already (the same ISO from another URL, or uploaded) are kept once.
   * Resolves to the image's SHA-256.
   */
  async ingestUnnamed(size: number, open: (offset: number) => Promise<Readable | AsyncIterable<Uint8Array>>, onProgress?: (bytes: number) => void, resume: ResumePolicy = DEFAULT_RESUME): Promise<string> {
    return this.write(undefined, size, open, onProgress, resume);
  }

  /** `expected` undefined: the image is named by the hash of what arrived. */
  private async write(expected: string | undefined, size: number, source: ImageSource, onProgress: ((bytes: number) => void) | undefined, resume: ResumePolicy): Promise<string> {
    if (!Number.isSafeInteger(size) || size < 0) throw new LightsoutError('VALIDATION_FAILED', 'image size must be a non-negative integer');
    if (size > this.maxBytes) {
      throw new LightsoutError('PAYLOAD_TOO_LARGE', `image of ${size} bytes exceeds the agent media cache of ${this.maxBytes} bytes`);
    }
    await this.makeRoom(size);
    this.reservedBytes += size;
    const temporary = join(this.directory, `${expected ?? 'unnamed'}.partial-${randomBytes(6).toString('hex')}`);
    let sha256 = expected ?? '';
    const opener = typeof source === 'function' ? source : undefined;
    try {
      let offset = 0;
      for (let attempt = 1; ; attempt += 1) {
        try {
          const hash = await hashPrefix(temporary, offset);
          await copyKeeping(
            opener ? await opener(offset) : (source as Readable | AsyncIterable<Uint8Array>),
            hash,
            offset,
            size,
            // progress is what the file has: an upload's offset is answered from it (docs/virtual-media.md "Uploads into the agent")
            new CacheFile(temporary, offset, (written) => onProgress?.(written)),
          );
          const received = (await stat(temporary)).size;
          if (received !== size) throw new LightsoutError('VALIDATION_FAILED', `image ended after ${received} of ${size} bytes`, { details: { cut: true } });
          const actual = hash.digest('hex');
          if (expected === undefined) sha256 = actual;
          else if (actual !== expected) throw new LightsoutError('CHECKSUM_MISMATCH', 'image bytes do not match their SHA-256', { details: { expected, actual } });
          break;
        } catch (error) {
          if (!opener || attempt >= resume.attempts || !isCut(error)) throw error;
          // Continue from what is on disk, re-hashed from there (bytes hashed in flight may not have been written).
          offset = Math.min(size, await stat(temporary).then((info) => info.size, () => 0));
          // what the disk has is the progress now: bytes hashed in flight but never written are asked for again
          onProgress?.(offset);
          await resume.wait(attempt);
        }
      }
      if (this.entries.has(sha256)) {
        await rm(temporary, { force: true }); // the same bytes arrived by another way meanwhile
      } else {
        await rename(temporary, this.pathOf(sha256));
        this.entries.set(sha256, { size, lastUsed: Date.now() });
      }
      return sha256;
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

/** The image's bytes: a stream, or a function opening them from a byte offset (resumable). */
export type ImageSource = Readable | AsyncIterable<Uint8Array> | ((offset: number) => Promise<Readable | AsyncIterable<Uint8Array>>);

export interface ResumePolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Waits before try `attempt + 1`. */
  wait(attempt: number): Promise<void>;
}

/** Six tries over about 30 s (1, 2, 4, 8, 15 s apart): rides out a relay restart or a WAN blip, gives up on an outage. */
const DEFAULT_RESUME: ResumePolicy = { attempts: 6, wait: (attempt) => delay(Math.min(15_000, 1000 * 2 ** (attempt - 1))) };

/**
 * Counts, bounds and hashes the bytes on their way to the file. When the
 * source breaks, what it delivered is still written before the error goes
 * on: a cut transfer then continues after the last byte received, not the
 * last one that happened to be on disk (a pipeline would drop up to the
 * file's buffer, a megabyte the next try asks the server for again).
 */
async function copyKeeping(source: Readable | AsyncIterable<Uint8Array>, hash: Hash, offset: number, size: number, file: CacheFile): Promise<void> {
  const written = finished(file);
  written.catch(() => undefined); // awaited below on every path; this only keeps an early file error from going unhandled
  let received = offset;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      received += chunk.byteLength;
      if (received > size) throw new LightsoutError('VALIDATION_FAILED', `image is longer than the announced ${size} bytes`);
      hash.update(chunk);
      if (!file.write(chunk)) await Promise.race([once(file, 'drain'), written]);
    }
  } catch (error) {
    if (!file.destroyed) file.end();
    await written.catch(() => undefined);
    throw error;
  }
  file.end();
  await written;
}

/**
 * The partial image file from `start` (0600): writes gathered into one
 * writev while another is in flight (up to 1 MiB), and `onWritten(end)` once
 * each has landed in the file, so the progress reported is what the file
 * holds, never bytes still in a buffer (fs.WriteStream says neither).
 */
class CacheFile extends Writable {
  private handle: FileHandle | undefined;

  constructor(
    private readonly path: string,
    private position: number,
    private readonly onWritten: (end: number) => void,
  ) {
    super({ highWaterMark: WRITE_BUFFER_BYTES });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, this.position > 0 ? 'r+' : 'w', 0o600).then((handle) => {
      this.handle = handle;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map(({ chunk }) => chunk);
    const length = buffers.reduce((total, buffer) => total + buffer.byteLength, 0);
    this.handle!.writev(buffers, this.position).then(({ bytesWritten }) => {
      this.position += bytesWritten;
      if (bytesWritten !== length) return callback(Object.assign(new Error(`short write to ${this.path}`), { syscall: 'writev', code: 'EIO' }));
      this.onWritten(this.position);
      callback();
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    handle!.close().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return callback(error);
    handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

/** A SHA-256 over the first `length` bytes of `path` (what an earlier try left), ready for the rest. */
async function hashPrefix(path: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length === 0) return hash;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: WRITE_BUFFER_BYTES })) hash.update(chunk as Buffer);
  return hash;
}

/**
 * A transfer that broke, as opposed to one that delivered wrong bytes or
 * one this disk cannot take: the connection failed (a transport error, not
 * one of ours) or the body ended early. Refusals (HTTP 4xx from the relay)
 * are LightsoutErrors, and the cache file's own errors (ENOSPC, EIO, a
 * vanished directory) would fail the same way again: neither is retried.
 */
function isCut(error: unknown): boolean {
  if (error instanceof LightsoutError) return error.code === 'VALIDATION_FAILED' && (error.details as { cut?: boolean } | undefined)?.cut === true;
  const syscall = (error as NodeJS.ErrnoException | undefined)?.syscall;
  return !(syscall !== undefined && FILE_SYSCALLS.has(syscall));
}
const FILE_SYSCALLS = new Set(['open', 'write', 'writev', 'close', 'fsync', 'stat', 'fstat', 'rename']);

export function assertSha256(sha256: string): void {
  if (!SHA256_PATTERN.test(sha256)) throw new LightsoutError('VALIDATION_FAILED', 'an image is named by its SHA-256 in lower-case hex');
}
