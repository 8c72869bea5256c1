import { randomUUID } from 'node:crypto';
import { LightsoutError, type SshKeyView } from '@lightsout/shared';
import type { SshKeyTable } from '../store/database.js';
import type { Store } from '../store/open.js';
import { parsePublicKey } from './public-keys.js';

/** A user has at most this many keys: enough for every workstation, few enough that listing or trying them stays cheap. */
export const MAX_KEYS_PER_USER = 50;

const iso = (milliseconds: number | null) => (milliseconds === null ? null : new Date(milliseconds).toISOString());

export function sshKeyView(row: SshKeyTable): SshKeyView {
  return { id: row.id, name: row.name, algorithm: row.algorithm, bits: row.bits, fingerprint: row.fingerprint, publicKey: row.public_key, createdAt: iso(row.created_at)!, lastUsedAt: iso(row.last_used_at) };
}

export async function listSshKeys(store: Store, owner: { tenant: string; subject: string }): Promise<SshKeyTable[]> {
  return store.selectFrom('ssh_keys').selectAll().where('tenant_id', '=', owner.tenant).where('user_id', '=', owner.subject).orderBy('created_at').execute();
}

/**
 * Register a key for one user of one tenant. A key already registered (to
 * anyone) is CONFLICT: the key alone says who is connecting, so it can belong
 * to one account only — and the answer does not say whose.
 */
export async function addSshKey(store: Store, owner: { tenant: string; subject: string }, publicKey: string, name: string | undefined): Promise<SshKeyTable> {
  const key = parsePublicKey(publicKey);
  const existing = await store.selectFrom('ssh_keys').select(['id']).where('fingerprint', '=', key.fingerprint).executeTakeFirst();
  if (existing !== undefined) throw new LightsoutError('CONFLICT', `key ${key.fingerprint} is already registered`, { hint: 'each key opens one account: create another key (ssh-keygen -t ed25519)' });
  const count = (await listSshKeys(store, owner)).length;
  if (count >= MAX_KEYS_PER_USER) throw new LightsoutError('QUOTA_EXCEEDED', `at most ${MAX_KEYS_PER_USER} SSH keys per user`, { hint: 'remove keys you no longer use: lightsout ssh-keys remove ID' });
  const row: SshKeyTable = {
    id: `sshk_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
    tenant_id: owner.tenant,
    user_id: owner.subject,
    name: name ?? (key.comment.length > 0 ? key.comment.replace(/[^A-Za-z0-9@._ -]/g, '_').slice(0, 64) : key.algorithm),
    algorithm: key.algorithm,
    bits: key.bits,
    fingerprint: key.fingerprint,
    public_key: key.line,
    created_at: Date.now(),
    last_used_at: null,
  };
  try {
    await store.insertInto('ssh_keys').values(row).execute();
  } catch (error) {
    // Two registrations of one key at once: the unique index decided.
    if (await store.selectFrom('ssh_keys').select('id').where('fingerprint', '=', key.fingerprint).executeTakeFirst()) throw new LightsoutError('CONFLICT', `key ${key.fingerprint} is already registered`);
    throw error;
  }
  return row;
}

/** Remove one of the owner's keys; another user's key is NOT_FOUND, exactly like a missing one. */
export async function removeSshKey(store: Store, owner: { tenant: string; subject: string }, keyId: string): Promise<SshKeyTable> {
  const row = await store.selectFrom('ssh_keys').selectAll().where('id', '=', keyId).where('tenant_id', '=', owner.tenant).where('user_id', '=', owner.subject).executeTakeFirst();
  if (row === undefined) throw new LightsoutError('NOT_FOUND', `no SSH key ${keyId}`);
  await store.deleteFrom('ssh_keys').where('id', '=', keyId).execute();
  return row;
}

export async function findSshKey(store: Store, fingerprint: string): Promise<SshKeyTable | undefined> {
  return store.selectFrom('ssh_keys').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirst();
}

/** Recorded at most once a minute, like API tokens: a busy user must not turn every connection into a write. */
export async function markSshKeyUsed(store: Store, row: SshKeyTable, now = Date.now()): Promise<void> {
  if (row.last_used_at !== null && now - row.last_used_at < 60_000) return;
  await store.updateTable('ssh_keys').set({ last_used_at: now }).where('id', '=', row.id).execute();
}
