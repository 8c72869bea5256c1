import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { appendFile, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordingMeta } from '@lightsout/shared';
import { DEFAULT_RECORDING_MAX_BYTES, type RecordingAllowance, RecordingAppender } from './appender.js';

export type { RecordingMeta };

/** Stores one session's downstream bytes, each byte once, however legs overlap. */
export interface RecordingWriter {
  /** Stores the part of `bytes` (stream offset `offset` onwards) past what the recording already holds. */
  write(offset: number, bytes: Uint8Array, timeMs: number): void;
  /** Stores `bytes` right after what the recording holds (one writer's own sequence). */
  append(bytes: Uint8Array, timeMs: number): void;
  /** Resolves once everything handed in so far is stored, or the writer failed (and said so through onError). */
  idle(): Promise<void>;
  close(): void;
}

/** A recording's data: the raw downstream bytes and the time index, one [offset, timeMs] per stored chunk. */
export interface RecordingData {
  bytes: Buffer;
  times: [offset: number, timeMs: number][];
}

/**
 * Where recordings live: the raw downstream bytes of a session (so their
 * length is the stream offset reached: a restarted relay, or another
 * gateway the session moved to, continues exactly there) and a time index.
 * Formats for download (asciicast v2, RFB capture) are rendered from these
 * on request. Two backends: files under one replica's dataDir (the single
 * process's default), and the store's tables (database-storage.ts), which
 * every replica of a deployment reads and writes.
 */
export interface RecordingStorage {
  /**
   * Opens (or continues) a recording. May throw (ENOSPC, EACCES, …); a
   * failure while opening asynchronously or writing later is reported
   * through `onError`, once. `allowance`: room shared with the tenant's
   * other recordings; when it runs out the recording stops there, as at its
   * own limit.
   */
  writer(meta: RecordingMeta, onError?: (error: Error) => void, allowance?: RecordingAllowance): RecordingWriter;
  /** Newest first. */
  list(): Promise<RecordingMeta[]>;
  get(id: string): Promise<RecordingMeta | undefined>;
  read(id: string): Promise<RecordingData | undefined>;
  /** When the recording last grew (ms since epoch): what retention counts from. */
  lastWrittenAt(id: string): Promise<number | undefined>;
  /** Bytes stored (the stream offset reached), without reading them. */
  size(id: string): Promise<number | undefined>;
  /** Deletes a recording whole (not one that is being written: the caller checks); false when it was not there. */
  remove(id: string): Promise<boolean>;
}

export const RECORDING_ID = /^[A-Za-z0-9_-]{22}$/;

/** A writer over an appender: what both backends hand out. */
export function writerOver(appender: RecordingAppender): RecordingWriter {
  return {
    write: (offset, bytes, timeMs) => appender.write(offset, bytes, timeMs),
    append: (bytes, timeMs) => appender.write(undefined, bytes, timeMs),
    idle: () => appender.idle(),
    // Nothing is held open between writes; what waits for its delay is stored now.
    close: () => appender.close(),
  };
}

/** The time index's lines, without those for bytes that never reached storage (a crash between the two appends). */
export function parseTimes(text: string, storedBytes: number): [number, number][] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(' ').map(Number) as [number, number])
    .filter(([offset]) => offset < storedBytes);
}

const missing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * Writes a whole file or none: a temporary file beside it, then rename(2),
 * which is atomic on POSIX. Written in place, a crash or a full disk left an
 * empty or truncated meta that no listing could parse.
 */
function writeFileAtomically(path: string, text: string): void {
  // Not ending in `.json`: a leftover of a crash is never taken for a recording's meta.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

export interface FileRecordingStorageOptions {
  /**
   * A meta that cannot be read or parsed (left by a crash before meta was
   * written atomically, or damaged on disk): list() and the retention sweep
   * skip that recording and report it here. Default: a process warning.
   */
  onUnreadableMeta?(id: string, error: Error): void;
  /** Bytes one recording holds at most (RecordingAppender); default DEFAULT_RECORDING_MAX_BYTES. */
  maxBytes?: number;
}

/** Where an unreadable meta is reported when the storage was given nowhere else: a process warning. */
export const warnUnreadableMeta = (id: string, error: Error): void => process.emitWarning(`recording ${id}: unreadable meta skipped (${error.message})`, { code: 'LIGHTSOUT_RECORDING_META_UNREADABLE' });

/**
 * Per recording, in one directory: the meta (`.json`), the raw bytes
 * (`.bytes`) and the time index (`.times`: one "offset timeMs" line per
 * chunk). One replica's disk: the single process's default.
 */
export class FileRecordingStorage implements RecordingStorage {
  private readonly onUnreadableMeta: (id: string, error: Error) => void;
  private readonly maxBytes: number;

  constructor(
    private readonly directory: string,
    options: FileRecordingStorageOptions = {},
  ) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    this.onUnreadableMeta = options.onUnreadableMeta ?? warnUnreadableMeta;
    this.maxBytes = options.maxBytes ?? DEFAULT_RECORDING_MAX_BYTES;
  }

  writer(meta: RecordingMeta, onError: (error: Error) => void = () => undefined, allowance?: RecordingAllowance): RecordingWriter {
    if (!RECORDING_ID.test(meta.id)) throw new Error('bad recording id');
    const base = join(this.directory, meta.id);
    return writerOver(
      new RecordingAppender(
        meta.id,
        {
          // Synchronous: the length is known before the first byte arrives, and an open failure is thrown to the caller.
          open: () => {
            if (!existsSync(`${base}.json`)) writeFileAtomically(`${base}.json`, JSON.stringify(meta));
            return existsSync(`${base}.bytes`) ? statSync(`${base}.bytes`).size : 0;
          },
          // No descriptor is held between appends (open, write, close): two open files per recorded stream would
          // cost as many descriptors as the stream's two sockets, and the descriptor limit bounds streams (docs/streams.md).
          // Bytes before their index lines: a crash in between leaves lines past the bytes, which read() drops.
          append: async (_offset, bytes, times) => {
            await appendFile(`${base}.bytes`, bytes, { mode: 0o600 });
            await appendFile(`${base}.times`, times.map(([offset, timeMs]) => `${offset} ${timeMs}\n`).join(''), { mode: 0o600 });
          },
        },
        onError,
        undefined,
        undefined,
        this.maxBytes,
        allowance,
      ),
    );
  }

  async list(): Promise<RecordingMeta[]> {
    const names = await readdir(this.directory);
    // One unreadable meta must not hide every tenant's recordings (nor stop retention for good): it is skipped, and said.
    const readable = (id: string) =>
      this.get(id).catch((error: unknown) => {
        this.onUnreadableMeta(id, error instanceof Error ? error : new Error(String(error)));
        return undefined;
      });
    const metas = await Promise.all(names.filter((name) => name.endsWith('.json')).map((name) => readable(name.slice(0, -5))));
    return metas.filter((meta): meta is RecordingMeta => meta !== undefined).sort((a, b) => b.startedAt - a.startedAt);
  }

  async get(id: string): Promise<RecordingMeta | undefined> {
    if (!RECORDING_ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.directory, `${id}.json`), 'utf8')) as RecordingMeta;
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
  }

  async read(id: string): Promise<RecordingData | undefined> {
    if ((await this.get(id)) === undefined) return undefined;
    const base = join(this.directory, id);
    // Asynchronously: a synchronous read of a large recording held the event loop every console shares.
    const orNone = <T>(error: unknown, none: T): T => {
      if (missing(error)) return none;
      throw error;
    };
    const bytes = await readFile(`${base}.bytes`).catch((error: unknown) => orNone(error, Buffer.alloc(0)));
    const times = await readFile(`${base}.times`, 'utf8').catch((error: unknown) => orNone(error, ''));
    return { bytes, times: parseTimes(times, bytes.length) };
  }

  async size(id: string): Promise<number | undefined> {
    if ((await this.get(id)) === undefined) return undefined;
    return stat(join(this.directory, `${id}.bytes`)).then((stats) => stats.size, () => 0);
  }

  async lastWrittenAt(id: string): Promise<number | undefined> {
    if ((await this.get(id)) === undefined) return undefined;
    const base = join(this.directory, id);
    const times = await Promise.all(['.json', '.bytes', '.times'].map((suffix) => stat(base + suffix).then((stats) => stats.mtimeMs, () => 0)));
    return Math.max(...times);
  }

  async remove(id: string): Promise<boolean> {
    if (!RECORDING_ID.test(id)) return false;
    const base = join(this.directory, id);
    const existed = existsSync(`${base}.json`);
    // Meta last: a crash midway leaves a listed recording with less data, never data without its owner's tenant.
    for (const suffix of ['.bytes', '.times', '.json']) await rm(base + suffix, { force: true });
    return existed;
  }
}

