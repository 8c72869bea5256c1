import { generateKeyPairSync } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { LightsoutError, type Ed25519PublicJwk } from '@lightsout/shared';
import { KEY_FILE, readJsonFile, writePrivateFile } from './state.js';

export interface AgentKeyPair {
  /** Signs control-connection JWTs. Never leaves this process or the state dir. */
  privateKey: CryptoKey;
  /** Registered with the relay at enrollment. */
  publicJwk: Ed25519PublicJwk;
}

function isPrivateEd25519Jwk(value: unknown): value is JWK & { kty: 'OKP'; crv: 'Ed25519'; x: string; d: string } {
  if (typeof value !== 'object' || value === null) return false;
  const jwk = value as Record<string, unknown>;
  return jwk['kty'] === 'OKP' && jwk['crv'] === 'Ed25519' && typeof jwk['x'] === 'string' && typeof jwk['d'] === 'string';
}

async function fromJwk(jwk: JWK & { x: string }): Promise<AgentKeyPair> {
  const privateKey = await importJWK(jwk, 'EdDSA');
  if (privateKey instanceof Uint8Array) throw new LightsoutError('INTERNAL', 'imported agent key is not an asymmetric key');
  return { privateKey, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } };
}

/** Loads the agent's Ed25519 key, generating and storing it (0600) on first start. */
export async function loadOrCreateKeyPair(stateDir: string): Promise<{ keyPair: AgentKeyPair; created: boolean }> {
  const path = join(stateDir, KEY_FILE);
  const stored = await readJsonFile(path);
  if (stored !== undefined) {
    if (!isPrivateEd25519Jwk(stored)) {
      throw new LightsoutError('CONFIG_INVALID', `${path} is not an Ed25519 private key`, { hint: 'delete the state directory and enroll again with a new join token' });
    }
    // Restores 0600 if a restore from backup or a careless chmod widened it.
    await chmod(path, 0o600);
    return { keyPair: await fromJwk(stored), created: false };
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK & { x: string; d: string };
  await writePrivateFile(path, `${JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d })}\n`);
  return { keyPair: await fromJwk(jwk), created: true };
}
