import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, pipeline } from 'node:stream';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { LightsoutError, UPLOAD_ID_PATTERN } from '@lightsout/shared';

const UPLOAD_ID = new RegExp(UPLOAD_ID_PATTERN);

/**
 * tus FileStore that hashes every byte on its way to disk, so an upload is
 * SHA-256-verified the moment its last chunk lands, without reading a large
 * image twice. The running hash lives in memory; after a relay restart (or a
 * write that failed half-way) it is rebuilt once from the bytes on disk.
 */
interface RunningHash {
  hash: Hash;
  offset: number;
}

export class HashingFileStore extends FileStore {
  private readonly running = new Map<string, RunningHash>();

  override async write(readable: IncomingMessage | Readable, id: string, offset: number): Promise<number> {
    const hash = await this.takeHash(id, offset);
    let hashed = offset;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        hashed += chunk.byteLength;
        callback(null, chunk);
      },
    });
    const metered = pipeline(readable, meter, () => undefined);
    const written = await super.write(metered, id, offset);
    if (written === hashed) this.returnHash(id, hash, written);
    return written;
  }

  /**
   * The running hash of bytes [0, offset), for a writer that appends from
   * `offset`. While the write is in flight the state is unusable, so it is
   * held by the writer; give it back with returnHash once the disk agrees.
   */
  async takeHash(id: string, offset: number): Promise<Hash> {
    let state = this.running.get(id);
    if (state?.offset !== offset) state = await this.rehash(id, offset);
    this.running.delete(id);
    return state.hash;
  }

  /** A writer is done: `hash` covers exactly bytes [0, offset) as they are on disk. */
  returnHash(id: string, hash: Hash, offset: number): void {
    this.running.set(id, { hash, offset });
  }

  /** SHA-256 (hex) of the first `size` bytes of the upload. */
  async digest(id: string, size: number): Promise<string> {
    let state = this.running.get(id);
    if (state?.offset !== size) state = await this.rehash(id, size);
    return state.hash.copy().digest('hex');
  }

  override async remove(id: string): Promise<void> {
    this.running.delete(id);
    await super.remove(id);
  }

  /**
   * The tus 1.0 expiration extension ("Expiration": the server may remove
   * unfinished uploads) ends unfinished uploads only. @tus/file-store judges
   * "unfinished" by the offset in the upload's JSON record, which its own
   * writes never update and ours (patch.ts appends to the data file) do not
   * either: every upload, verified or not, looked unfinished and was deleted
   * 24 h after its creation. Here the data file's size is the offset (as
   * getUpload reads it), and a verified upload never expires.
   */
  override async deleteExpired(): Promise<number> {
    const expiration = this.getExpiration();
    if (expiration <= 0) return 0;
    const now = Date.now();
    let removed = 0;
    for (const id of (await this.configstore.list?.()) ?? []) {
      // gone meanwhile (deleted by its client): nothing to expire
      const upload = await this.getUpload(id).catch(() => undefined);
      if (!upload?.creation_date || now <= new Date(upload.creation_date).getTime() + expiration) continue;
      if (upload.metadata?.verified === 'true' && upload.offset === upload.size) continue;
      // a DELETE of its client may remove it first (remove() reports any unlink failure as not found)
      if (await this.remove(id).then(() => true, () => false)) removed += 1;
    }
    return removed;
  }

  forget(id: string): void {
    this.running.delete(id);
  }

  private async rehash(id: string, length: number): Promise<RunningHash> {
    const hash = createHash('sha256');
    if (length > 0) {
      for await (const chunk of createReadStream(this.pathOf(id), { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
    }
    const state = { hash, offset: length };
    this.running.set(id, state);
    return state;
  }

  /** Where the bytes of an upload are. Ids are ours (random hex), never a client's file name. */
  pathOf(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new LightsoutError('NOT_FOUND', 'no such upload');
    return join(this.directory, id);
  }
}
