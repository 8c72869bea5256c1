import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JWK, exportJWK, generateKeyPair } from 'jose';

/** The embedded OP's private signing keys and cookie secrets, kept in dataDir so restarts keep tokens valid. */
export interface ProviderSecrets {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
}

const FILE = 'oidc-secrets.json';

async function signingKey(algorithm: 'EdDSA' | 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: algorithm, use: 'sig', kid: randomBytes(8).toString('base64url') };
}

/**
 * Load the secrets, or create them on first start (mode 0600). EdDSA signs
 * access tokens; RS256 exists because it is the ID-token default every OIDC
 * client library understands.
 */
export async function loadOrCreateProviderSecrets(dataDir: string): Promise<ProviderSecrets> {
  const path = join(dataDir, FILE);
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as ProviderSecrets;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets: ProviderSecrets = {
    jwks: { keys: [await signingKey('EdDSA'), await signingKey('RS256')] },
    cookieKeys: [randomBytes(32).toString('base64url')],
  };
  writeFileSync(path, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: 'wx' });
  return secrets;
}

/** The public half of each key, for verifying tokens locally without a network round trip. */
export function publicJwks(secrets: ProviderSecrets): { keys: JWK[] } {
  return {
    keys: secrets.jwks.keys.map(({ kty, crv, x, y, n, e, kid, alg, use }) => Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, value]) => value !== undefined)) as JWK),
  };
}
