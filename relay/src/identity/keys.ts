import { randomBytes } from 'node:crypto';
import { type JWK, type JWTVerifyGetKey, createLocalJWKSet, errors as joseErrors, exportJWK, generateKeyPair } from 'jose';
import { LightsoutError } from '@lightsout/shared';
import { type KeyDocuments, legacyKeyFile, removeLegacyKeyFiles } from '../access/key-documents.js';
import { isStoreUnavailable } from '../store/unavailable.js';

/**
 * The embedded OP's private signing keys and cookie secrets, kept in the
 * store (key-documents.ts) so restarts keep tokens valid and every replica
 * of a deployment issues and accepts the same tokens.
 */
export interface ProviderSecrets {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
}

/** The ring's name in the store. */
const RING = 'oidc';
/** Where a single-process install kept them before the store did: imported once, then removed. */
const LEGACY_FILE = 'oidc-secrets.json';

async function signingKey(algorithm: 'EdDSA' | 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: algorithm, use: 'sig', kid: randomBytes(8).toString('base64url') };
}

/**
 * Load the secrets, or create them on the first start of the deployment.
 * EdDSA signs access tokens; RS256 exists because it is the ID-token default
 * every OIDC client library understands. Replicas starting at once on an
 * empty store all end up with the first one's secrets.
 */
export async function loadOrCreateProviderSecrets(documents: KeyDocuments, dataDir?: string): Promise<ProviderSecrets> {
  const stored = await documents.read(RING);
  if (stored !== undefined) return JSON.parse(stored.document) as ProviderSecrets;
  const legacy = legacyKeyFile(dataDir, [LEGACY_FILE]);
  const secrets: ProviderSecrets =
    legacy === undefined
      ? { jwks: { keys: [await signingKey('EdDSA'), await signingKey('RS256')] }, cookieKeys: [randomBytes(32).toString('base64url')] }
      : (JSON.parse(legacy.text) as ProviderSecrets);
  const created = await documents.create(RING, JSON.stringify(secrets));
  removeLegacyKeyFiles(dataDir, [LEGACY_FILE]);
  return JSON.parse(created.document) as ProviderSecrets;
}

/** The secrets as stored, or undefined before the first start (tests sign their own tokens with them). */
export async function readProviderSecrets(documents: KeyDocuments): Promise<ProviderSecrets | undefined> {
  const stored = await documents.read(RING);
  return stored === undefined ? undefined : (JSON.parse(stored.document) as ProviderSecrets);
}

/** The public half of each key, for verifying tokens locally without a network round trip. */
export function publicJwks(secrets: ProviderSecrets): { keys: JWK[] } {
  return {
    keys: secrets.jwks.keys.map(({ kty, crv, x, y, n, e, kid, alg, use }) => Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, value]) => value !== undefined)) as JWK),
  };
}

/** A kid not in the held set re-reads the ring at most this often (forged kids cannot make a replica hammer the store). */
const REREAD_COOLDOWN_MS = 1000;

/**
 * The embedded OP's public keys as a replica that runs no OP (a gateway)
 * verifies with: read from the store at start, and read again when a token
 * names a key not held (the deployment's first start, or keys a manager
 * replaced), at most once a second. Tokens signed with a held key verify
 * while the store is down; a read that finds the store down is
 * STORE_UNAVAILABLE, not a bad token.
 */
export async function storeProviderKeys(documents: KeyDocuments, now: () => number = Date.now): Promise<JWTVerifyGetKey> {
  let local: JWTVerifyGetKey | undefined;
  let kids = new Set<string>();
  let readAt = -Infinity;
  let reading: Promise<void> | undefined;
  const reread = (): Promise<void> =>
    (reading ??= (async () => {
      try {
        readAt = now();
        const secrets = await readProviderSecrets(documents);
        if (secrets === undefined) return;
        const jwks = publicJwks(secrets);
        local = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
        kids = new Set(jwks.keys.map((key) => key.kid).filter((kid): kid is string => kid !== undefined));
      } finally {
        reading = undefined;
      }
    })());
  await reread();
  return async (header, token) => {
    if ((local === undefined || (header.kid !== undefined && !kids.has(header.kid))) && now() - readAt >= REREAD_COOLDOWN_MS) {
      try {
        await reread();
      } catch (error) {
        if (isStoreUnavailable(error)) throw new LightsoutError('STORE_UNAVAILABLE', 'the signing keys cannot be read: the database is not answering', { cause: error });
        throw error;
      }
    }
    if (local === undefined) throw new joseErrors.JWKSNoMatchingKey();
    return local(header, token);
  };
}
