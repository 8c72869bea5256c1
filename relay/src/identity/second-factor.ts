import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AtRestKey, rewriteFreedPages } from '../store/at-rest-key.js';
import type { StoreDriver } from '../store/migrations.js';
import type { Store } from '../store/open.js';
import { newTotpSecret, totpStepOf } from './totp.js';

/** How long an enrollment may wait for its confirming code. */
export const PENDING_TTL_MS = 10 * 60_000;
/** How long an admin-issued enrollment code is valid. */
export const ENROLLMENT_CODE_TTL_MS = 24 * 3600_000;

/**
 * A user's TOTP second factor as stored: the secret sealed with the
 * deployment's at-rest key (store/at-rest-key.ts), bound to its user id, so
 * one user's ciphertext pasted into another's row does not open.
 */
export class TotpSealer {
  constructor(private readonly key: AtRestKey) {}

  static loadOrCreate(path: string): TotpSealer {
    return new TotpSealer(AtRestKey.loadOrCreate(path));
  }

  static isSealed(value: string): boolean {
    return AtRestKey.isSealed(value);
  }

  seal(userId: string, secret: string): string {
    return this.key.seal(`lightsout-totp:${userId}`, secret);
  }

  /** The secret, or undefined when the value was not sealed by this key for this user. */
  open(userId: string, sealed: string): string | undefined {
    return this.key.open(`lightsout-totp:${userId}`, sealed);
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
    if (sealed > 0) await rewriteFreedPages(this.store, this.driver, 'users');
    return sealed;
  }
}
