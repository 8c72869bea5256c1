import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import { FileConfigstore } from '@tus/file-store';
import { LightsoutError } from '@lightsout/shared';

type UploadMetadata = Parameters<FileConfigstore['set']>[1];

/**
 * The upload's JSON metadata, written atomically: a temporary file, then
 * rename(2) over the old one. @tus/file-store's own configstore truncates and
 * rewrites the file in place, and its reader treats an unparsable file as "no
 * such upload" — so a status read racing a metadata write (the upload
 * finishing, verification recorded) saw a live upload as deleted and failed
 * the mount under load. rename is atomic on POSIX: a reader sees the old file
 * or the new one, never half of either.
 */
export class AtomicFileConfigstore extends FileConfigstore {
  constructor(private readonly root: string) {
    super(root);
  }

  override async set(key: string, value: UploadMetadata): Promise<void> {
    const target = resolve(this.root, `${key}.json`);
    const inside = relative(this.root, target);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new LightsoutError('NOT_FOUND', 'upload id outside the upload directory');
    // The temporary name sorts after `<id>.json`, so the store's id listing (upload file next to its .json) is undisturbed.
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify(value), { mode: 0o600 });
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
