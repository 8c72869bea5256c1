import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sql } from 'kysely';
import type { StoreDriver } from './migrations.js';
import type { Store } from './open.js';

/**
 * The key that seals secrets the store must hold (TOTP secrets, the
 * deployment's signing keys) with AES-256-GCM (NIST SP 800-38D). It is a
 * file, not a row, so a copy of the database — a backup, a read-only SQL
 * injection — yields no usable secret; every replica of a deployment reads
 * the same file (`identity.totpKeyFile`). Each sealed value is bound to what
 * it is for (additional authenticated data, e.g. `lightsout-totp:<user id>`):
 * a value pasted into another row or column does not open.
 *
 *   sealed = "v1." base64url( iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes) )
 */
const SEALED_PREFIX = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class AtRestKey {
  private constructor(private readonly key: Buffer) {}

  /** The key file (32 random bytes, base64url, mode 0600), created on first start. */
  static loadOrCreate(path: string): AtRestKey {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        // Another relay on the same data dir created it first: use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
    if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte key (base64url)`);
    return new AtRestKey(key);
  }

  static isSealed(value: string): boolean {
    return value.startsWith(SEALED_PREFIX);
  }

  seal(purpose: string, text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The text, or undefined when the value was not sealed by this key for this purpose. */
  open(purpose: string, sealed: string): string | undefined {
    if (!AtRestKey.isSealed(sealed)) return undefined;
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/**
 * An UPDATE leaves the old row's bytes in freed pages (SQLite: the WAL and
 * the file's free list; PostgreSQL: dead tuples) until they are reused, so
 * after rewriting clear secrets the file is compacted: checkpoint the WAL
 * into the file, VACUUM (rewrites it without free pages), truncate the WAL.
 */
export async function rewriteFreedPages(store: Store, driver: StoreDriver, table: 'users' | 'signing_keys'): Promise<void> {
  if (driver === 'sqlite') {
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store);
    await sql`VACUUM`.execute(store);
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store);
  } else {
    await sql`VACUUM FULL ${sql.table(table)}`.execute(store);
  }
}
