import { type Hash, createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
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
  /** An upload's partial file not written for this long is removed (default 24 h, the relay's expiry of unfinished uploads). */
  partialTtlMs?: number;
}

/** An upload's partial file: `<sha256>.upload-<upload id>.part`, kept across agent restarts so the upload resumes. */
const UPLOAD_PARTIAL = /^([0-9a-f]{64})\.upload-([0-9a-f]{32})\.part$/;
export const UPLOAD_KEY_PATTERN = /^[0-9a-f]{32}$/;
const DEFAULT_PARTIAL_TTL_MS = 24 * 3600_000;

/** What an upload's partial file holds. */
export interface UploadPartial {
  sha256: string;
  /** Bytes on disk. */
  bytes: number;
  lastUsed: number;
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
  /** Uploads' partial files by upload id; those being written are also in `writingUploads`. */
  private readonly partials = new Map<string, UploadPartial>();
  private readonly writingUploads = new Set<string>();
  private readonly partialTtlMs: number;
  private reservedBytes = 0;

  constructor(options: MediaCacheOptions) {
    this.directory = options.directory;
    this.maxBytes = options.maxBytes;
    this.partialTtlMs = options.partialTtlMs ?? DEFAULT_PARTIAL_TTL_MS;
  }

  /**
   * Scans the directory. Leftovers of interrupted writes are removed, except
   * uploads' partial files (an upload resumes from them after an agent
   * restart) not older than the partial TTL.
   */
  async open(): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.directory)) {
      const path = join(this.directory, name);
      const partial = UPLOAD_PARTIAL.exec(name);
      if (partial) {
        const info = await stat(path);
        if (Date.now() - info.mtimeMs > this.partialTtlMs) await rm(path, { force: true });
        else this.partials.set(partial[2]!, { sha256: partial[1]!, bytes: info.size, lastUsed: info.mtimeMs });
        continue;
      }
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

  /** What upload `key`'s partial file holds, if it has one. */
  partialOf(key: string): UploadPartial | undefined {
    const partial = this.partials.get(key);
    return partial ? { ...partial } : undefined;
  }

  /** Removes upload `key`'s partial file unless a write holds it (the image is cached: the file's bytes are not needed). */
  async discardPartial(key: string): Promise<void> {
    const partial = this.partials.get(key);
    if (partial && !this.writingUploads.has(key)) await this.evictPartial(key, partial);
  }

  /** Bytes of uploads' partial files that no write holds (a write's file is inside its reservation). */
  private get idlePartialBytes(): number {
    let total = 0;
    for (const [key, partial] of this.partials) if (!this.writingUploads.has(key)) total += partial.bytes;
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
  async ingest(sha256: string, size: number, source: ImageSource, onProgress?: (bytes: number) => void, resume: ResumePolicy = DEFAULT_RESUME, upload?: string): Promise<void> {
    assertSha256(sha256);
    if (upload !== undefined && !UPLOAD_KEY_PATTERN.test(upload)) throw new LightsoutError('VALIDATION_FAILED', 'an upload is named by 32 hex digits');
    if (this.entries.has(sha256)) return;
    // An upload writes its own file (see `write`): two uploads of one image each prove their bytes; other ingests share one write.
    const key = upload === undefined ? sha256 : `upload:${upload}`;
    const running = this.writing.get(key);
    if (running) return running;
    const write = this.write(sha256, size, source, onProgress, resume, upload)
      .then(() => undefined)
      .finally(() => this.writing.delete(key));
    this.writing.set(key, write);
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

  /**
   * `expected` undefined: the image is named by the hash of what arrived.
   * `upload` (an upload's id, with `expected`): the partial file is the
   * upload's own (`<sha256>.upload-<id>.part`), outlives a cut or an agent
   * restart, and the write starts where it ends — the SHA-256 of what it
   * holds is computed again from the file, and the whole image is verified
   * at the end as always. It is removed when the bytes are wrong or the
   * relay no longer has the upload (NOT_FOUND), never for a cut.
   */
  private async write(expected: string | undefined, size: number, source: ImageSource, onProgress: ((bytes: number) => void) | undefined, resume: ResumePolicy, upload?: string): Promise<string> {
    if (!Number.isSafeInteger(size) || size < 0) throw new LightsoutError('VALIDATION_FAILED', 'image size must be a non-negative integer');
    if (size > this.maxBytes) {
      throw new LightsoutError('PAYLOAD_TOO_LARGE', `image of ${size} bytes exceeds the agent media cache of ${this.maxBytes} bytes`);
    }
    const kept = upload === undefined ? undefined : this.partials.get(upload);
    // a kept file of another image under this upload's id cannot be continued
    if (upload !== undefined && kept && (kept.sha256 !== expected || kept.bytes > size)) {
      await rm(this.uploadPartialPath(kept.sha256, upload), { force: true });
      this.partials.delete(upload);
    }
    if (upload !== undefined) this.writingUploads.add(upload);
    try {
      await this.makeRoom(size);
    } catch (error) {
      if (upload !== undefined) this.writingUploads.delete(upload);
      throw error;
    }
    this.reservedBytes += size;
    const temporary = upload !== undefined && expected !== undefined ? this.uploadPartialPath(expected, upload) : join(this.directory, `${expected ?? 'unnamed'}.partial-${randomBytes(6).toString('hex')}`);
    let sha256 = expected ?? '';
    const opener = typeof source === 'function' ? source : undefined;
    const partial: UploadPartial | undefined = upload === undefined ? undefined : { sha256: sha256, bytes: this.partials.get(upload)?.bytes ?? 0, lastUsed: Date.now() };
    if (upload !== undefined && partial) this.partials.set(upload, partial);
    const progress = (written: number) => {
      if (partial) {
        partial.bytes = written;
        partial.lastUsed = Date.now();
      }
      onProgress?.(written);
    };
    try {
      // an upload continues from what its file holds (an earlier pull, or before an agent restart)
      let offset = partial && opener ? partial.bytes : 0;
      if (offset > 0) progress(offset);
      for (let attempt = 1; ; attempt += 1) {
        try {
          const hash = await hashPrefix(temporary, offset);
          await copyKeeping(
            opener ? await opener(offset) : (source as Readable | AsyncIterable<Uint8Array>),
            hash,
            offset,
            size,
            // progress is what the file has: an upload's offset is answered from it (docs/virtual-media.md "Uploads into the agent")
            new CacheFile(temporary, offset, progress),
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
          progress(offset);
          await resume.wait(attempt);
        }
      }
      if (this.entries.has(sha256)) {
        await rm(temporary, { force: true }); // the same bytes arrived by another way meanwhile
      } else {
        await rename(temporary, this.pathOf(sha256));
        this.entries.set(sha256, { size, lastUsed: Date.now() });
      }
      if (upload !== undefined) this.partials.delete(upload);
      return sha256;
    } catch (error) {
      if (upload !== undefined && partial && keepsPartial(error)) {
        partial.bytes = await stat(temporary).then((info) => info.size, () => 0);
      } else {
        await rm(temporary, { force: true });
        if (upload !== undefined) this.partials.delete(upload);
      }
      throw error;
    } finally {
      this.reservedBytes -= size;
      if (upload !== undefined) this.writingUploads.delete(upload);
    }
  }

  private uploadPartialPath(sha256: string, upload: string): string {
    assertSha256(sha256);
    return join(this.directory, `${sha256}.upload-${upload}.part`);
  }

  private async evictImage(sha256: string): Promise<void> {
    this.entries.delete(sha256);
    await rm(this.pathOf(sha256), { force: true });
  }

  private async evictPartial(key: string, partial: UploadPartial): Promise<void> {
    this.partials.delete(key);
    await rm(this.uploadPartialPath(partial.sha256, key), { force: true });
  }

  /**
   * Evicts unpinned images and uploads' idle partial files (an abandoned
   * upload's), least recently used first, until `bytes` more fit.
   */
  private async makeRoom(bytes: number): Promise<void> {
    // an abandoned upload's file (the relay expired the upload long ago) goes whether room is short or not
    for (const [key, partial] of [...this.partials]) {
      if (!this.writingUploads.has(key) && Date.now() - partial.lastUsed > this.partialTtlMs) await this.evictPartial(key, partial);
    }
    const fits = () => this.usedBytes + this.idlePartialBytes + this.reservedBytes + bytes <= this.maxBytes;
    const candidates = [
      ...[...this.entries].filter(([sha256]) => !this.pins.has(sha256)).map(([sha256, entry]) => ({ lastUsed: entry.lastUsed, evict: () => this.evictImage(sha256) })),
      ...[...this.partials].filter(([key]) => !this.writingUploads.has(key)).map(([key, partial]) => ({ lastUsed: partial.lastUsed, evict: () => this.evictPartial(key, partial) })),
    ].sort((a, b) => a.lastUsed - b.lastUsed);
    for (const candidate of candidates) {
      if (fits()) return;
      await candidate.evict();
    }
    if (!fits()) {
      throw new LightsoutError('BMC_BUSY', 'the agent media cache is full of images in use', {
        hint: 'Eject media from other servers or raise media.cacheBytes on the agent.',
      });
    }
  }
}

/**
 * Whether a failed upload write keeps its partial file: a cut (the
 * connection, the relay or the agent going away) does, to be continued;
 * wrong bytes, a disk error or an upload the relay no longer has do not.
 */
function keepsPartial(error: unknown): boolean {
  if (error instanceof LightsoutError) return error.code === 'AGENT_OFFLINE' || (error.code === 'VALIDATION_FAILED' && (error.details as { cut?: boolean } | undefined)?.cut === true);
  return isCut(error);
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
    await eachChunk(source, (chunk) => {
      received += chunk.byteLength;
      if (received > size) throw new LightsoutError('VALIDATION_FAILED', `image is longer than the announced ${size} bytes`);
      hash.update(chunk);
      return file.write(chunk) ? undefined : Promise.race([once(file, 'drain'), written]);
    });
  } catch (error) {
    if (!file.destroyed) file.end();
    await written.catch(() => undefined);
    throw error;
  }
  file.end();
  await written;
}

/**
 * Hands `take` each chunk as the source delivered it, waiting while the
 * promise it returns is pending; the source is destroyed when `take` throws.
 * A Readable is read in flowing mode: its async iterator reads in paused
 * mode, where `read()` joins whatever is buffered into one new Buffer — a
 * copy of every byte, and an allocation V8 counts as external memory, which
 * at disk speed starts a full collection every few tens of megabytes
 * (measured: 97–99 mark-compacts in the agent for one 1 GiB image).
 */
async function eachChunk(source: Readable | AsyncIterable<Uint8Array>, take: (chunk: Uint8Array) => Promise<unknown> | undefined): Promise<void> {
  if (!(source instanceof Readable)) {
    for await (const chunk of source) await take(chunk);
    return;
  }
  const ended = finished(source);
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      source.off('data', onData);
      source.destroy();
      reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      let wait: Promise<unknown> | undefined;
      try {
        wait = take(chunk);
      } catch (error) {
        return fail(error);
      }
      if (wait === undefined) return;
      source.pause();
      wait.then(() => failed || source.resume(), fail);
    };
    ended.then(() => failed || resolve(), fail);
    source.on('data', onData);
  });
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
