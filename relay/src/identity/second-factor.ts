import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sql } from 'kysely';
import type { StoreDriver } from '../store/migrations.js';
import type { Store } from '../store/open.js';
import { newTotpSecret, totpStepOf } from './totp.js';

/**
 * A user's TOTP second factor as stored: the secret sealed with AES-256-GCM
 * (NIST SP 800-38D) under a key that is not in the database, so a copy of
 * the database (a backup, a read-only SQL injection) yields no usable
 * factor. Each sealed value is bound to its user id (additional
 * authenticated data): one user's ciphertext pasted into another's row does
 * not open.
 *
 *   sealed = "v1." base64url( iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes) )
 */
const SEALED_PREFIX = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** How long an enrollment may wait for its confirming code. */
export const PENDING_TTL_MS = 10 * 60_000;
/** How long an admin-issued enrollment code is valid. */
export const ENROLLMENT_CODE_TTL_MS = 24 * 3600_000;

export class TotpSealer {
  private constructor(private readonly key: Buffer) {}

  /** The key file (32 random bytes, base64url, mode 0600), created on first start. */
  static loadOrCreate(path: string): TotpSealer {
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
    return new TotpSealer(key);
  }

  static isSealed(value: string): boolean {
    return value.startsWith(SEALED_PREFIX);
  }

  seal(userId: string, secret: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`lightsout-totp:${userId}`));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The secret, or undefined when the value was not sealed by this key for this user. */
  open(userId: string, sealed: string): string | undefined {
    if (!TotpSealer.isSealed(sealed)) return undefined;
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`lightsout-totp:${userId}`));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

export interface FactorState {
  active: boolean;
  pending: boolean;
}

const hashCode = (code: string) => createHash('sha256').update(code, 'utf8').digest('base64url');

/** The second-factor records of the users table, through one sealer. */
export class SecondFactors {
  constructor(
    private readonly store: Store,
    private readonly sealer: TotpSealer,
    private readonly driver: StoreDriver,
    private readonly now: () => number = Date.now,
  ) {}

  async state(userId: string): Promise<FactorState> {
    const row = await this.store.selectFrom('users').select(['totp_secret', 'totp_pending', 'totp_pending_expires_at']).where('id', '=', userId).executeTakeFirst();
    return { active: (row?.totp_secret ?? null) !== null, pending: (row?.totp_pending ?? null) !== null && (row?.totp_pending_expires_at ?? 0) > this.now() };
  }

  /**
   * Accept a code for the active factor at most once: the step it matched
   * must be later than the last step accepted (RFC 6238 §5.2), and that is
   * recorded in one conditional update, so two relays racing on the same
   * code cannot both accept it.
   */
  async accept(userId: string, code: string): Promise<boolean> {
    const row = await this.store.selectFrom('users').select(['totp_secret', 'totp_last_step']).where('id', '=', userId).executeTakeFirst();
    const secret = row?.totp_secret === undefined || row.totp_secret === null ? undefined : this.sealer.open(userId, row.totp_secret);
    if (secret === undefined) return false;
    const step = totpStepOf(secret, code, this.now() / 1000, row!.totp_last_step ?? -1);
    if (step === undefined) return false;
    const updated = await this.store
      .updateTable('users')
      .set({ totp_last_step: step })
      .where('id', '=', userId)
      .where((where) => where.or([where('totp_last_step', 'is', null), where('totp_last_step', '<', step)]))
      .executeTakeFirst();
    return updated.numUpdatedRows === 1n;
  }

  /** A new secret waiting for its first code; replaces any earlier pending one, leaves the active factor alone. */
  async begin(userId: string): Promise<string> {
    const secret = newTotpSecret();
    await this.store.updateTable('users').set({ totp_pending: this.sealer.seal(userId, secret), totp_pending_expires_at: this.now() + PENDING_TTL_MS }).where('id', '=', userId).execute();
    return secret;
  }

  /** The pending secret becomes the factor when `code` is its current code; the step is spent. */
  async confirm(userId: string, code: string): Promise<boolean> {
    const row = await this.store.selectFrom('users').select(['totp_pending', 'totp_pending_expires_at']).where('id', '=', userId).executeTakeFirst();
    if (row?.totp_pending === undefined || row.totp_pending === null || (row.totp_pending_expires_at ?? 0) <= this.now()) return false;
    const secret = this.sealer.open(userId, row.totp_pending);
    const step = secret === undefined ? undefined : totpStepOf(secret, code, this.now() / 1000, -1);
    if (step === undefined) return false;
    const updated = await this.store
      .updateTable('users')
      .set({ totp_secret: row.totp_pending, totp_pending: null, totp_pending_expires_at: null, totp_last_step: step })
      .where('id', '=', userId)
      .where('totp_pending', '=', row.totp_pending)
      .executeTakeFirst();
    return updated.numUpdatedRows === 1n;
  }

  async remove(userId: string): Promise<void> {
    await this.store.updateTable('users').set({ totp_secret: null, totp_pending: null, totp_pending_expires_at: null, totp_last_step: null }).where('id', '=', userId).execute();
  }

  /** A one-time enrollment code for a user (shown once to the admin who asked; stored as SHA-256). */
  async issueEnrollmentCode(userId: string): Promise<{ code: string; expiresAt: number }> {
    const code = randomBytes(15).toString('base64url');
    const expiresAt = this.now() + ENROLLMENT_CODE_TTL_MS;
    await this.store.updateTable('users').set({ mfa_enrollment_hash: hashCode(code), mfa_enrollment_expires_at: expiresAt }).where('id', '=', userId).execute();
    return { code, expiresAt };
  }

  /** Spends the user's enrollment code if `code` is it and it has not expired; true at most once. */
  async spendEnrollmentCode(userId: string, code: string): Promise<boolean> {
    const row = await this.store.selectFrom('users').select(['mfa_enrollment_hash', 'mfa_enrollment_expires_at']).where('id', '=', userId).executeTakeFirst();
    if (row?.mfa_enrollment_hash === undefined || row.mfa_enrollment_hash === null || (row.mfa_enrollment_expires_at ?? 0) <= this.now()) return false;
    const presented = Buffer.from(hashCode(code));
    const stored = Buffer.from(row.mfa_enrollment_hash);
    if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) return false;
    const spent = await this.store.updateTable('users').set({ mfa_enrollment_hash: null, mfa_enrollment_expires_at: null }).where('id', '=', userId).where('mfa_enrollment_hash', '=', row.mfa_enrollment_hash).executeTakeFirst();
    return spent.numUpdatedRows === 1n;
  }

  /**
   * Seal secrets stored in clear by earlier versions (and turn their
   * `pending:` marker into a pending enrollment). Idempotent; run at startup.
   */
  async sealClearSecrets(): Promise<number> {
    const rows = await this.store.selectFrom('users').select(['id', 'totp_secret']).where('totp_secret', 'is not', null).execute();
    let sealed = 0;
    for (const row of rows) {
      const value = row.totp_secret!;
      if (TotpSealer.isSealed(value)) continue;
      const changes = value.startsWith('pending:')
        ? { totp_secret: null, totp_pending: this.sealer.seal(row.id, value.slice('pending:'.length)), totp_pending_expires_at: this.now() + PENDING_TTL_MS }
        : { totp_secret: this.sealer.seal(row.id, value) };
      await this.store.updateTable('users').set(changes).where('id', '=', row.id).where('totp_secret', '=', value).execute();
      sealed += 1;
    }
    if (sealed > 0) await rewriteFreedPages(this.store, this.driver);
    return sealed;
  }
}

/**
 * An UPDATE leaves the old row's bytes in freed pages (SQLite: the WAL and
 * the file's free list; PostgreSQL: dead tuples) until they are reused, so
 * after rewriting clear secrets the file is compacted: checkpoint the WAL
 * into the file, VACUUM (rewrites it without free pages), truncate the WAL.
 */
async function rewriteFreedPages(store: Store, driver: StoreDriver): Promise<void> {
  if (driver === 'sqlite') {
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store);
    await sql`VACUUM`.execute(store);
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store);
  } else {
    await sql`VACUUM FULL users`.execute(store);
  }
}
