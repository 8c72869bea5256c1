import { closeSync, mkdirSync, openSync, readSync, rmSync, unlinkSync, write } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ByteRing } from '@lightsout/shared';
import type { ScrollbackStore } from './scrollback.js';

// File layout: the byte at stream offset o sits at file position o mod C (the
// capacity), so the file never grows past C and holds the newest C bytes, each
// new byte overwriting the one C before it:
//
//   position: 0 ………………………………………… end mod C ……………………………………… C
//             | newer part of the window | older part of the window |
//
// Bytes not yet written (and those being written) are kept in memory, in a
// ring bounded by the same capacity, until the write that carries them ends.

/** The directory under the agent's state directory that holds the consoles' scrollback files. */
export const SCROLLBACK_DIRECTORY = 'scrollback';

/**
 * Makes the scrollback directory, private to the agent (0700), and empties
 * it: every file in it is unlinked as soon as it is open, so anything found
 * there was left by an agent that died between the two.
 */
export function prepareScrollbackDirectory(stateDir: string): string {
  const directory = join(stateDir, SCROLLBACK_DIRECTORY);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  return directory;
}

/**
 * How long output may wait in memory before its write starts. A console at
 * 115,200 baud prints ~11 KB/s in SOL packets of a few dozen bytes: written
 * as they came, a thousand busy consoles would cost ~100,000 writes a second;
 * gathered over 100 ms, at most 10 a second each.
 */
const WRITE_DELAY_MS = 100;
/** This much output waiting (or half the capacity, when that is less) starts its write at once. */
const WRITE_NOW_BYTES = 16 * 1024;

export interface ScrollbackFileOptions {
  /** Told once when the file fails (the store then keeps the window in memory). */
  onError?: (error: Error) => void;
}

/**
 * A console's scrollback on disk, as a console server keeps its console logs
 * (conserver's logfile): what the agent holds in memory per console is the
 * few bytes not yet written, whatever the console printed. An agent serves a
 * console per BMC; at 256 KiB of scrollback each, a thousand chatty consoles
 * held 256 MB of memory, and the agent's memory followed the output of every
 * host it watched.
 *
 * The file is unlinked as soon as it is open: it lives as long as the
 * descriptor, nothing is left behind when the agent stops or is killed, and
 * no other process finds it by name. Writes go through libuv's thread pool
 * one at a time; output waits up to WRITE_DELAY_MS (or until WRITE_NOW_BYTES
 * are waiting) so that a burst — a boot log arriving a SOL packet at a time —
 * is one write, not one per packet. `snapshot()` reads synchronously: a late
 * viewer joins in the same turn as its scrollback is taken, so no byte falls
 * between the two, and the window is at most `capacity` bytes, in the page
 * cache.
 *
 * If a write or read fails (disk full, I/O error) the store says so once
 * and keeps the window in memory from then on, as Scrollback does: a
 * console never stops because its log could not be written.
 */
export class ScrollbackFile implements ScrollbackStore {
  /** Offset one past the newest byte pushed. */
  private end = 0;
  /** Bytes not yet on disk (and the ones being written), from `pending.start` to `end`. */
  private pending: ByteRing;
  private writing = false;
  private delay: ReturnType<typeof setTimeout> | undefined;
  private writes = 0;
  private closed = false;
  private failed = false;
  private readonly waiters: Array<() => void> = [];

  private constructor(
    private readonly fd: number,
    readonly capacityBytes: number,
    private readonly options: ScrollbackFileOptions,
  ) {
    if (!(capacityBytes > 0)) throw new RangeError('capacityBytes must be positive');
    this.pending = new ByteRing({ maxBytes: capacityBytes, minBytes: 256 });
  }

  /** A new, anonymous scrollback file in `directory` (which must exist, and should be private to the agent). */
  static create(directory: string, capacityBytes: number, options: ScrollbackFileOptions = {}): ScrollbackFile {
    if (!(capacityBytes > 0)) throw new RangeError('capacityBytes must be positive');
    const path = join(directory, `scrollback-${randomBytes(8).toString('hex')}`);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new ScrollbackFile(fd, capacityBytes, options);
  }

  /** Over a descriptor the caller opened for reading and writing (tests: a device whose writes fail). The store closes it. */
  static overDescriptor(fd: number, capacityBytes: number, options: ScrollbackFileOptions = {}): ScrollbackFile {
    return new ScrollbackFile(fd, capacityBytes, options);
  }

  get size(): number {
    return this.end - (this.failed ? Math.max(this.windowStart(), this.pending.start) : this.windowStart());
  }

  /** Bytes of output held in memory now (not yet on disk, or all of them once the file failed). */
  get bytesInMemory(): number {
    return this.pending.size;
  }

  get usingFile(): boolean {
    return !this.failed;
  }

  /** Writes started so far (each may take two calls when it wraps the file). */
  get writesStarted(): number {
    return this.writes;
  }

  push(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    this.pending.push(bytes);
    this.end += bytes.length;
    this.scheduleWrite();
  }

  snapshot(): Uint8Array {
    if (this.closed) return new Uint8Array(0);
    const start = this.windowStart();
    // Everything before what memory holds is on disk: memory lets a byte go
    // only when the write that carried it has ended, or when it is older than
    // the window anyway.
    const fromDisk = this.failed ? 0 : Math.max(0, this.pending.start - start);
    if (fromDisk > 0) {
      const out = new Uint8Array(this.end - start);
      try {
        this.readInto(out, start, fromDisk);
        out.set(this.pending.copyFrom(start + fromDisk), fromDisk);
        return out;
      } catch (error) {
        this.fail(error);
      }
    }
    // Memory holds the whole window: nothing written yet, or the file failed (and fail() kept what it could read).
    return this.pending.copyFrom(start);
  }

  /** Resolves when every byte pushed so far is on disk (or the file has failed). */
  flushed(): Promise<void> {
    if (!this.writing && this.delay === undefined) return Promise.resolve();
    const settled = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (!this.writing) this.writeNow();
    return settled;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.delay);
    this.delay = undefined;
    if (!this.writing) {
      this.settle();
      this.release();
    }
  }

  private windowStart(): number {
    return Math.max(0, this.end - this.capacityBytes);
  }

  /** After WRITE_DELAY_MS, or now when enough is waiting or someone waits for the disk. */
  private scheduleWrite(): void {
    if (this.writing || this.failed) return;
    if (this.pending.size >= Math.min(WRITE_NOW_BYTES, this.capacityBytes / 2) || this.waiters.length > 0) this.writeNow();
    else if (this.delay === undefined) {
      this.delay = setTimeout(() => this.writeNow(), WRITE_DELAY_MS);
      // Output waiting to be written never keeps the agent running.
      this.delay.unref();
    }
  }

  private writeNow(): void {
    clearTimeout(this.delay);
    this.delay = undefined;
    this.writeNext();
  }

  private writeNext(): void {
    if (this.writing || this.failed || this.closed) {
      if (!this.writing) this.settle();
      return;
    }
    // Memory never holds more than the window (its ring is bounded by the capacity), so all of it is written.
    const from = this.pending.start;
    const chunk = this.pending.copyFrom();
    if (chunk.length === 0) {
      this.settle();
      return;
    }
    this.writing = true;
    this.writes++;
    const position = from % this.capacityBytes;
    const firstPart = Math.min(chunk.length, this.capacityBytes - position);
    const done = (error: Error | null) => {
      this.writing = false;
      if (this.closed) {
        this.settle();
        this.release();
        return;
      }
      if (error !== null) this.fail(error);
      // A read that failed meanwhile moved the window into memory: it keeps every byte.
      else if (!this.failed) this.pending.dropBefore(from + chunk.length);
      if (this.failed || this.pending.end <= from + chunk.length) this.settle();
      else this.scheduleWrite();
    };
    this.writeAll(chunk.subarray(0, firstPart), position, (error) => {
      if (error !== null || firstPart === chunk.length) done(error);
      else this.writeAll(chunk.subarray(firstPart), 0, done);
    });
  }

  /** fs.write may write fewer bytes than asked (POSIX write(2)); the rest follows. */
  private writeAll(bytes: Uint8Array, position: number, callback: (error: Error | null) => void): void {
    write(this.fd, bytes, 0, bytes.length, position, (error, written) => {
      if (error !== null) callback(error);
      else if (written === 0) callback(Object.assign(new Error('write wrote nothing'), { code: 'EIO' }));
      else if (written < bytes.length) this.writeAll(bytes.subarray(written), position + written, callback);
      else callback(null);
    });
  }

  /** Reads stream offsets [offset, offset + length) from the file into `out` at 0. */
  private readInto(out: Uint8Array, offset: number, length: number): void {
    let done = 0;
    while (done < length) {
      const position = (offset + done) % this.capacityBytes;
      const want = Math.min(length - done, this.capacityBytes - position);
      const got = readSync(this.fd, out, done, want, position);
      if (got <= 0) throw Object.assign(new Error(`scrollback file ended at position ${position}`), { code: 'EIO' });
      done += got;
    }
  }

  /** The file failed: keep the window in memory from now on, with what can still be read of the disk's part. */
  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const start = this.windowStart();
    const onDisk = Math.max(0, this.pending.start - start);
    if (onDisk > 0) {
      try {
        const disk = new Uint8Array(onDisk);
        this.readInto(disk, start, onDisk);
        const window = new ByteRing({ maxBytes: this.capacityBytes, startOffset: start });
        window.push(disk);
        window.push(this.pending.copyFrom());
        this.pending = window;
      } catch {
        // The disk's part is lost: the window starts with what memory held.
      }
    }
    this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
  }

  private settle(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private release(): void {
    try {
      closeSync(this.fd);
    } catch {
      // Already gone: nothing to give back.
    }
    this.pending = new ByteRing({ maxBytes: this.capacityBytes, minBytes: 256 });
  }
}
