import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JWK, type KeyObject, exportJWK, generateKeyPair, importJWK } from 'jose';

/**
 * A rotating set of EdDSA signing keys for relay-issued tokens (stream
 * tokens), kept in dataDir (0600). The newest key signs; older keys stay in
 * the JWKS and keep verifying for an overlap window after they are retired,
 * so tokens issued just before a rotation, and gateways that cached the old
 * JWKS, keep working; after the window they are gone. Rotation happens on
 * load when the current key is older than `rotateAfterSeconds`, or on demand.
 */
interface StoredKey {
  jwk: JWK;
  createdAt: number;
  retiredAt?: number;
}

interface LoadedKey extends StoredKey {
  kid: string;
  privateKey: KeyObject | Uint8Array;
  publicKey: KeyObject | Uint8Array;
  publicJwk: JWK;
}

export interface KeyRingOptions {
  dataDir: string;
  file: string;
  /** A single private JWK file from before rotation existed: becomes the first key. */
  legacyFile?: string;
  rotateAfterSeconds: number;
  overlapSeconds: number;
  now?: () => number;
}

async function newKey(now: number): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  return { jwk: { ...(await exportJWK(privateKey)), alg: 'EdDSA', use: 'sig', kid: `stream-${randomBytes(6).toString('base64url')}` }, createdAt: now };
}

async function loaded(stored: StoredKey): Promise<LoadedKey> {
  const { kty, crv, x, kid } = stored.jwk;
  const publicJwk = { kty, crv, x, kid, alg: 'EdDSA', use: 'sig' } as JWK;
  return { ...stored, kid: kid!, privateKey: await importJWK(stored.jwk, 'EdDSA'), publicKey: await importJWK(publicJwk, 'EdDSA'), publicJwk };
}

export class SigningKeyRing {
  private constructor(
    private keys: LoadedKey[],
    private readonly options: KeyRingOptions & { now: () => number },
  ) {}

  static async load(options: KeyRingOptions): Promise<SigningKeyRing> {
    const settings = { ...options, now: options.now ?? (() => Date.now()) };
    const path = join(options.dataDir, options.file);
    let stored: StoredKey[];
    if (existsSync(path)) {
      stored = (JSON.parse(readFileSync(path, 'utf8')) as { keys: StoredKey[] }).keys;
    } else if (options.legacyFile !== undefined && existsSync(join(options.dataDir, options.legacyFile))) {
      stored = [{ jwk: JSON.parse(readFileSync(join(options.dataDir, options.legacyFile), 'utf8')) as JWK, createdAt: settings.now() }];
    } else {
      stored = [await newKey(settings.now())];
    }
    if (!existsSync(path)) {
      mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
      try {
        writeFileSync(path, JSON.stringify({ keys: stored }), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        // Another process sharing this data dir created it first: use theirs, so both accept each other's tokens.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        stored = (JSON.parse(readFileSync(path, 'utf8')) as { keys: StoredKey[] }).keys;
      }
    }
    const ring = new SigningKeyRing(await Promise.all(stored.map(loaded)), settings);
    if (settings.now() - ring.current.createdAt > options.rotateAfterSeconds * 1000) await ring.rotate();
    return ring;
  }

  /** The key that signs: the newest. */
  get current(): LoadedKey {
    return this.keys.at(-1)!;
  }

  private published(key: LoadedKey): boolean {
    return key.retiredAt === undefined || this.options.now() - key.retiredAt <= this.options.overlapSeconds * 1000;
  }

  /** Public keys a verifier should accept now: the current one and those within their overlap window. */
  publicJwks(): { keys: JWK[] } {
    return { keys: this.keys.filter((key) => this.published(key)).map((key) => key.publicJwk) };
  }

  /** The public key for a token's `kid`; throws for an unknown or expired key. */
  verificationKey(kid: string | undefined): KeyObject | Uint8Array {
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (key === undefined || !this.published(key)) throw new Error('no published key with that kid');
    return key.publicKey;
  }

  /** Retire the current key (it keeps verifying for the overlap window) and sign with a new one. */
  async rotate(): Promise<void> {
    const now = this.options.now();
    this.keys = this.keys.filter((key) => this.published(key));
    this.current.retiredAt = now;
    this.keys.push(await loaded(await newKey(now)));
    this.save();
  }

  private save(): void {
    mkdirSync(this.options.dataDir, { recursive: true, mode: 0o700 });
    const path = join(this.options.dataDir, this.options.file);
    const temporary = `${path}.${process.pid}.tmp`;
    const stored: StoredKey[] = this.keys.map(({ jwk, createdAt, retiredAt }) => ({ jwk, createdAt, ...(retiredAt === undefined ? {} : { retiredAt }) }));
    writeFileSync(temporary, JSON.stringify({ keys: stored }), { mode: 0o600 });
    renameSync(temporary, path);
  }
}
