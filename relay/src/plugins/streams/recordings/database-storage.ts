import { sql } from 'kysely';
import type { Store } from '../../../store/open.js';
import { DEFAULT_RECORDING_MAX_BYTES, type RecordingAllowance, RecordingAppender } from './appender.js';
import { RECORDING_ID, type RecordingData, type RecordingMeta, type RecordingStorage, type RecordingWriter, parseTimes, warnUnreadableMeta, writerOver } from './storage.js';

/** A stored meta as written by writer(); text that is not a JSON object is damaged, not a recording. */
function parseMeta(text: string): RecordingMeta {
  const meta: unknown = JSON.parse(text);
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new Error('the stored meta is not a JSON object');
  return meta as RecordingMeta;
}

/**
 * Recordings in the store (tables `recordings` and `recording_chunks`,
 * migration 0016), for a deployment of several replicas: a session recorded
 * through one gateway is listed and replayed through any replica, and a
 * session that follows its agent to another gateway goes on in the same
 * recording there, at the stored length.
 *
 * Each append is one INSERT of a chunk row (its bytes and their time index
 * lines together), so a recording is never half-written: a chunk is there
 * whole or not at all. Chunks are keyed by their stream offset and length:
 * a second writer of the same session (two gateways during a move) storing
 * the same range again is a no-op, an overlapping range is kept, and read()
 * drops every overlap.
 */
export class DatabaseRecordingStorage implements RecordingStorage {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    /** Bytes one recording holds at most (RecordingAppender). */
    private readonly maxBytes: number = DEFAULT_RECORDING_MAX_BYTES,
    /** A row whose meta cannot be parsed (damaged in the database): list() and the retention sweep skip it and report it here. */
    private readonly onUnreadableMeta: (id: string, error: Error) => void = warnUnreadableMeta,
  ) {}

  writer(meta: RecordingMeta, onError: (error: Error) => void = () => undefined, allowance?: RecordingAllowance): RecordingWriter {
    if (!RECORDING_ID.test(meta.id)) throw new Error('bad recording id');
    return writerOver(
      new RecordingAppender(
        meta.id,
        {
          open: async () => {
            await this.store
              .insertInto('recordings')
              .values({ id: meta.id, tenant_id: meta.tenant, meta: JSON.stringify(meta), started_at: meta.startedAt, created_at: this.now() })
              .onConflict((conflict) => conflict.column('id').doNothing())
              .execute();
            return this.storedLength(meta.id);
          },
          append: async (offset, bytes, times) => {
            await this.store
              .insertInto('recording_chunks')
              .values({ recording_id: meta.id, position: offset, length: bytes.length, bytes, times: times.map(([at, timeMs]) => `${at} ${timeMs}\n`).join(''), written_at: this.now() })
              .onConflict((conflict) => conflict.columns(['recording_id', 'position', 'length']).doNothing())
              .execute();
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
    const rows = await this.store.selectFrom('recordings').select(['id', 'meta']).orderBy('started_at', 'desc').execute();
    // One damaged row must not hide every tenant's recordings (nor stop retention for good), as with FileRecordingStorage: skipped, and said.
    return rows.flatMap((row) => {
      try {
        return [parseMeta(row.meta)];
      } catch (error) {
        this.onUnreadableMeta(row.id, error instanceof Error ? error : new Error(String(error)));
        return [];
      }
    });
  }

  async get(id: string): Promise<RecordingMeta | undefined> {
    if (!RECORDING_ID.test(id)) return undefined;
    const row = await this.store.selectFrom('recordings').select('meta').where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : parseMeta(row.meta);
  }

  async read(id: string): Promise<RecordingData | undefined> {
    if ((await this.get(id)) === undefined) return undefined;
    const chunks = await this.store.selectFrom('recording_chunks').select(['position', 'bytes', 'times']).where('recording_id', '=', id).orderBy('position').orderBy('length', 'desc').execute();
    const parts: Buffer[] = [];
    let length = 0;
    let times = '';
    for (const chunk of chunks) {
      const position = Number(chunk.position);
      const bytes = Buffer.from(chunk.bytes);
      // Another writer's chunk already covered this much of it.
      const skip = Math.max(0, length - position);
      if (skip >= bytes.length) continue;
      parts.push(bytes.subarray(skip));
      length += bytes.length - skip;
      times += chunk.times
        .split('\n')
        .filter((line) => line !== '' && Number(line.split(' ')[0]) >= position + skip)
        .map((line) => `${line}\n`)
        .join('');
    }
    const bytes = Buffer.concat(parts, length);
    return { bytes, times: parseTimes(times, bytes.length) };
  }

  async size(id: string): Promise<number | undefined> {
    if ((await this.get(id)) === undefined) return undefined;
    // Chunks of overlapping legs overlap; the furthest end is the offset reached.
    const row = await this.store
      .selectFrom('recording_chunks')
      .select((eb) => eb.fn.max(eb(eb.ref('position'), '+', eb.ref('length'))).as('end'))
      .where('recording_id', '=', id)
      .executeTakeFirst();
    return Number(row?.end ?? 0);
  }

  async lastWrittenAt(id: string): Promise<number | undefined> {
    const row = await this.store
      .selectFrom('recordings')
      .leftJoin('recording_chunks', 'recording_chunks.recording_id', 'recordings.id')
      .select(['recordings.created_at', (eb) => eb.fn.max('recording_chunks.written_at').as('last')])
      .where('recordings.id', '=', id)
      .groupBy('recordings.created_at')
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return Math.max(Number(row.created_at), Number(row.last ?? 0));
  }

  async remove(id: string): Promise<boolean> {
    if (!RECORDING_ID.test(id)) return false;
    // One transaction: the recording goes whole; another replica's sweep deleting it too finds nothing (false).
    return this.store.transaction().execute(async (transaction) => {
      await transaction.deleteFrom('recording_chunks').where('recording_id', '=', id).execute();
      const deleted = await transaction.deleteFrom('recordings').where('id', '=', id).executeTakeFirst();
      return Number(deleted.numDeletedRows) > 0;
    });
  }

  private async storedLength(id: string): Promise<number> {
    const row = await sql<{ end: number | string | null }>`select max(position + length) as "end" from recording_chunks where recording_id = ${id}`.execute(this.store);
    return Number(row.rows[0]?.end ?? 0);
  }
}
