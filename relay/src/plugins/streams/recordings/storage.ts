import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordingMeta } from '@lightsout/shared';

export type { RecordingMeta };

/** Appends one session's downstream bytes; `size` = bytes accepted so far (= the stream offset recorded up to). */
export interface RecordingWriter {
  readonly size: number;
  append(bytes: Uint8Array, timeMs: number): void;
  close(): void;
}

/**
 * Where recordings live. The file implementation keeps, per recording, the
 * meta (`.json`), the raw downstream bytes (`.bytes`, so its length is the
 * stream offset reached: a restarted relay continues exactly there) and a
 * time index (`.times`: one "offset timeMs" line per chunk). Formats for
 * download (asciicast v2, RFB capture) are rendered from these on request.
 */
export interface RecordingStorage {
  /**
   * Opens (or continues) a recording. May throw (ENOSPC, EACCES, …); a
   * failure while writing later is reported through `onError`, once.
   */
  writer(meta: RecordingMeta, onError?: (error: Error) => void): RecordingWriter;
  list(): RecordingMeta[];
  get(id: string): RecordingMeta | undefined;
  read(id: string): { bytes: Buffer; times: [offset: number, timeMs: number][] } | undefined;
  /** When the recording last grew (ms since epoch): what retention counts from. */
  lastWrittenAt(id: string): number | undefined;
  /** Deletes a recording whole (not one that is being written: the caller checks). */
  remove(id: string): void;
}

const ID = /^[A-Za-z0-9_-]{22}$/;
/** A recording whose disk cannot keep up is dropped (reported) rather than buffered without bound. */
const maxPendingBytes = 16 * 1024 * 1024;

export class FileRecordingStorage implements RecordingStorage {
  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  writer(meta: RecordingMeta, onError: (error: Error) => void = () => undefined): RecordingWriter {
    if (!ID.test(meta.id)) throw new Error('bad recording id');
    const base = join(this.directory, meta.id);
    if (!existsSync(`${base}.json`)) writeFileSync(`${base}.json`, JSON.stringify(meta), { mode: 0o600 });
    let size = existsSync(`${base}.bytes`) ? statSync(`${base}.bytes`).size : 0;
    // No descriptor is held between writes: what arrives in one event-loop turn is appended
    // (open, write, close) after it, one append in flight per recording. Two open files per
    // recorded stream would cost as many descriptors as the stream's two sockets, and the
    // relay's descriptor limit is what bounds its streams (docs/streams.md).
    let pendingBytes: Uint8Array[] = [];
    let pendingLength = 0;
    let pendingTimes = '';
    let scheduled = false;
    let flushing = false;
    // A failed append (disk full, a directory in the way) is reported once; the session goes on unrecorded.
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      pendingBytes = [];
      pendingTimes = '';
      onError(error);
    };
    const flush = (): void => {
      if (flushing || failed || pendingLength === 0) return;
      flushing = true;
      const bytes = Buffer.concat(pendingBytes, pendingLength);
      const times = pendingTimes;
      pendingBytes = [];
      pendingLength = 0;
      pendingTimes = '';
      // Bytes before their index lines: a crash in between leaves lines past the bytes, which read() drops.
      appendFile(`${base}.bytes`, bytes, { mode: 0o600 })
        .then(() => appendFile(`${base}.times`, times, { mode: 0o600 }))
        .then(
          () => {
            flushing = false;
            flush();
          },
          (error: unknown) => {
            flushing = false;
            fail(error instanceof Error ? error : new Error(String(error)));
          },
        );
    };
    const schedule = () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        flush();
      });
    };
    return {
      get size() {
        return size;
      },
      append(chunk, timeMs) {
        if (failed || chunk.length === 0) return;
        if (pendingLength + chunk.length > maxPendingBytes) return fail(new Error(`recording ${meta.id} fell ${maxPendingBytes} bytes behind the disk`));
        pendingTimes += `${size} ${timeMs}\n`;
        pendingBytes.push(chunk);
        pendingLength += chunk.length;
        size += chunk.length;
        schedule();
      },
      close() {
        schedule();
      },
    };
  }

  list(): RecordingMeta[] {
    return readdirSync(this.directory)
      .filter((name) => name.endsWith('.json'))
      .map((name) => this.get(name.slice(0, -5)))
      .filter((meta): meta is RecordingMeta => meta !== undefined)
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  get(id: string): RecordingMeta | undefined {
    if (!ID.test(id)) return undefined;
    const path = join(this.directory, `${id}.json`);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RecordingMeta) : undefined;
  }

  read(id: string): { bytes: Buffer; times: [number, number][] } | undefined {
    if (!this.get(id)) return undefined;
    const base = join(this.directory, id);
    const bytes = existsSync(`${base}.bytes`) ? readFileSync(`${base}.bytes`) : Buffer.alloc(0);
    const times = (existsSync(`${base}.times`) ? readFileSync(`${base}.times`, 'utf8') : '')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' ').map(Number) as [number, number])
      // A crash can leave index lines for bytes that never reached the disk.
      .filter(([offset]) => offset < bytes.length);
    return { bytes, times };
  }

  lastWrittenAt(id: string): number | undefined {
    if (!this.get(id)) return undefined;
    const base = join(this.directory, id);
    return Math.max(...['.json', '.bytes', '.times'].map((suffix) => (existsSync(base + suffix) ? statSync(base + suffix).mtimeMs : 0)));
  }

  remove(id: string): void {
    if (!ID.test(id)) return;
    const base = join(this.directory, id);
    // Meta last: a crash midway leaves a listed recording with less data, never data without its owner's tenant.
    for (const suffix of ['.bytes', '.times', '.json']) rmSync(base + suffix, { force: true });
  }
}
