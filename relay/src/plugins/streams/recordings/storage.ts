import { type WriteStream, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StreamKind } from '@lightsout/shared';

export interface RecordingMeta {
  id: string;
  sessionId: string;
  serverId: string;
  tenant: string;
  kind: StreamKind;
  user: string;
  /** ms since epoch */
  startedAt: number;
}

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
   * Opens (or continues) a recording. May throw (EMFILE, ENOSPC, …); a
   * failure while writing later is reported through `onError`, once.
   */
  writer(meta: RecordingMeta, onError?: (error: Error) => void): RecordingWriter;
  list(): RecordingMeta[];
  get(id: string): RecordingMeta | undefined;
  read(id: string): { bytes: Buffer; times: [offset: number, timeMs: number][] } | undefined;
}

const ID = /^[A-Za-z0-9_-]{22}$/;

export class FileRecordingStorage implements RecordingStorage {
  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  writer(meta: RecordingMeta, onError: (error: Error) => void = () => undefined): RecordingWriter {
    if (!ID.test(meta.id)) throw new Error('bad recording id');
    const base = join(this.directory, meta.id);
    if (!existsSync(`${base}.json`)) writeFileSync(`${base}.json`, JSON.stringify(meta), { mode: 0o600 });
    let size = existsSync(`${base}.bytes`) ? statSync(`${base}.bytes`).size : 0;
    const bytes: WriteStream = createWriteStream(`${base}.bytes`, { flags: 'a', mode: 0o600 });
    const times: WriteStream = createWriteStream(`${base}.times`, { flags: 'a', mode: 0o600 });
    // A write stream that fails (disk full, descriptor limit at open) emits
    // 'error' asynchronously: report it once, never crash the relay for it.
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      onError(error);
    };
    bytes.on('error', fail);
    times.on('error', fail);
    return {
      get size() {
        return size;
      },
      append(chunk, timeMs) {
        if (failed) return;
        times.write(`${size} ${timeMs}\n`);
        bytes.write(chunk);
        size += chunk.length;
      },
      close() {
        bytes.end();
        times.end();
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
}
