import ssh2 from 'ssh2';
import type { Store } from '../store/open.js';
import { generateEd25519Key } from './ed25519-key.js';
import { type SshPublicKey, parsePublicKey } from './public-keys.js';

const { utils } = ssh2;

export interface HostKey {
  /** OpenSSH private key format, what ssh2's Server takes. */
  privateKey: string;
  publicKey: SshPublicKey;
}

/** The host key's row: every gateway replica on the store serves the same host key, so users verify it once. */
const HOST_KEY_ID = 'default';
/** The deployment's SSH user certificate authority (ssh/certificates.ts), kept beside the host key and made the same way. */
const USER_CA_ID = 'user-ca';

function toHostKey(privateKey: string): HostKey {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return { privateKey, publicKey: parsePublicKey(`${key.type} ${key.getPublicSSH().toString('base64')}`) };
}

/**
 * The deployment's SSH host key: generated (Ed25519) by the first relay that
 * needs it and kept in the store; every later start and every replica reads
 * the same. Two replicas starting at once both try to insert, the primary
 * key keeps one, and both then use the one that was kept.
 */
export function loadHostKey(store: Store): Promise<HostKey> {
  return loadStoredKey(store, HOST_KEY_ID);
}

/** The CA that signs `lightsout ssh login` certificates; the front door accepts what it signed. */
export function loadUserCa(store: Store): Promise<HostKey> {
  return loadStoredKey(store, USER_CA_ID);
}

async function loadStoredKey(store: Store, id: string): Promise<HostKey> {
  const stored = await store.selectFrom('ssh_host_keys').select('private_key').where('id', '=', id).executeTakeFirst();
  if (stored !== undefined) return toHostKey(stored.private_key);
  const generated = generateEd25519Key();
  const fresh = toHostKey(generated.private);
  await store
    .insertInto('ssh_host_keys')
    .values({ id, private_key: generated.private, fingerprint: fresh.publicKey.fingerprint, created_at: Date.now() })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .execute();
  const kept = await store.selectFrom('ssh_host_keys').select('private_key').where('id', '=', id).executeTakeFirstOrThrow();
  return toHostKey(kept.private_key);
}

/** A key loaded on first use and kept; a failed load (the store was unreachable) is tried again next time, not kept. */
export function keptOnceLoaded(load: () => Promise<HostKey>): () => Promise<HostKey> {
  let kept: Promise<HostKey> | undefined;
  return () =>
    (kept ??= load().catch((error: unknown) => {
      kept = undefined;
      throw error;
    }));
}
