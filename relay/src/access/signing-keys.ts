import { randomBytes } from 'node:crypto';
import { type JWK, type KeyObject, exportJWK, generateKeyPair, importJWK } from 'jose';
import { type KeyDocuments, legacyKeyFile, removeLegacyKeyFiles } from './key-documents.js';

/**
 * A rotating set of EdDSA signing keys for relay-issued tokens (stream
 * tokens), kept in the store (key-documents.ts) so every replica of a
 * deployment signs and verifies with the same ring. The newest key signs;
 * older keys stay in the JWKS and keep verifying for an overlap window after
 * they are retired, so tokens issued just before a rotation, and gateways
 * that cached the old JWKS, keep working; after the window they are gone.
 * Rotation happens on load when the current key is older than
 * `rotateAfterSeconds`, or on demand; a replica that meets a key id it does
 * not know re-reads the ring (at most once a second), and `refresh` picks up
 * another replica's rotation.
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
  documents: KeyDocuments;
  /** The ring's name in the store. */
  name: string;
  /**
   * A single-process install from before the store held keys: its ring file
   * (`file`) or, older still, its one private JWK (`singleKeyFile`) in dataDir
   * is imported on the first start, then removed.
   */
  legacy?: { dataDir: string; file: string; singleKeyFile?: string };
  rotateAfterSeconds: number;
  overlapSeconds: number;
  now?: () => number;
}

/** How often an unknown `kid` may send a verifier back to the store: forged kids must not become a query flood. */
const UNKNOWN_KID_REFRESH_MS = 1000;
/** Attempts at a rotation that other replicas keep beating (each loser re-reads and tries again). */
const ROTATE_ATTEMPTS = 5;

async function newKey(now: number): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  return { jwk: { ...(await exportJWK(privateKey)), alg: 'EdDSA', use: 'sig', kid: `stream-${randomBytes(6).toString('base64url')}` }, createdAt: now };
}

async function loaded(stored: StoredKey): Promise<LoadedKey> {
  const { kty, crv, x, kid } = stored.jwk;
  const publicJwk = { kty, crv, x, kid, alg: 'EdDSA', use: 'sig' } as JWK;
  return { ...stored, kid: kid!, privateKey: await importJWK(stored.jwk, 'EdDSA'), publicKey: await importJWK(publicJwk, 'EdDSA'), publicJwk };
}

function storedForm(key: StoredKey): StoredKey {
  return { jwk: key.jwk, createdAt: key.createdAt, ...(key.retiredAt === undefined ? {} : { retiredAt: key.retiredAt }) };
}

function parseRing(document: string): StoredKey[] {
  return (JSON.parse(document) as { keys: StoredKey[] }).keys;
}

/** What the first start stores: the legacy file's keys, else one new key. */
async function initialKeys(options: KeyRingOptions, now: number): Promise<StoredKey[]> {
  const { legacy } = options;
  const found = legacyKeyFile(legacy?.dataDir, legacy === undefined ? [] : [legacy.file, ...(legacy.singleKeyFile === undefined ? [] : [legacy.singleKeyFile])]);
  if (found === undefined) return [await newKey(now)];
  if (found.path.endsWith(legacy!.file)) return parseRing(found.text);
  return [{ jwk: JSON.parse(found.text) as JWK, createdAt: now }];
}

export class SigningKeyRing {
  private lastRefreshAt = 0;

  private constructor(
    private keys: LoadedKey[],
    private version: number,
    private readonly options: KeyRingOptions & { now: () => number },
  ) {}

  static async load(options: KeyRingOptions): Promise<SigningKeyRing> {
    const settings = { ...options, now: options.now ?? (() => Date.now()) };
    let stored = await options.documents.read(options.name);
    if (stored === undefined) {
      // Two replicas starting at once on an empty store: the first create wins and both use its ring.
      stored = await options.documents.create(options.name, JSON.stringify({ keys: await initialKeys(options, settings.now()) }));
      const { legacy } = options;
      if (legacy !== undefined) removeLegacyKeyFiles(legacy.dataDir, [legacy.file, ...(legacy.singleKeyFile === undefined ? [] : [legacy.singleKeyFile])]);
    }
    const ring = new SigningKeyRing(await Promise.all(parseRing(stored.document).map(loaded)), stored.version, settings);
    await ring.rotateWhile(() => settings.now() - ring.current.createdAt > options.rotateAfterSeconds * 1000);
    return ring;
  }

  /** The key that signs: the newest. */
  get current(): LoadedKey {
    return this.keys.at(-1)!;
  }

  private published(key: StoredKey): boolean {
    return key.retiredAt === undefined || this.options.now() - key.retiredAt <= this.options.overlapSeconds * 1000;
  }

  /** Public keys a verifier should accept now: the current one and those within their overlap window. */
  publicJwks(): { keys: JWK[] } {
    return { keys: this.keys.filter((key) => this.published(key)).map((key) => key.publicJwk) };
  }

  /** Whether a token signed with `kid` verifies now (known here and still published), without asking the store. */
  verifies(kid: string | undefined): boolean {
    const key = this.keys.find((candidate) => candidate.kid === kid);
    return key !== undefined && this.published(key);
  }

  /** The public key for a token's `kid`; throws for an unknown or expired key. A kid this replica has not seen yet may be another's rotation: the store is asked. */
  async verificationKey(kid: string | undefined): Promise<KeyObject | Uint8Array> {
    let key = this.keys.find((candidate) => candidate.kid === kid);
    if (key === undefined && this.options.now() - this.lastRefreshAt >= UNKNOWN_KID_REFRESH_MS) {
      await this.refresh();
      key = this.keys.find((candidate) => candidate.kid === kid);
    }
    if (key === undefined || !this.published(key)) throw new Error('no published key with that kid');
    return key.publicKey;
  }

  /** Re-read the ring from the store (another replica may have rotated it). */
  async refresh(): Promise<void> {
    this.lastRefreshAt = this.options.now();
    const stored = await this.options.documents.read(this.options.name);
    if (stored === undefined || stored.version === this.version) return;
    this.keys = await Promise.all(parseRing(stored.document).map(loaded));
    this.version = stored.version;
  }

  /** Re-read the ring every `intervalMs` until the returned function is called. */
  refreshEvery(intervalMs: number, onError: (error: unknown) => void): () => void {
    const timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Retire the current key (it keeps verifying for the overlap window) and sign with a new one. */
  async rotate(): Promise<void> {
    let rotated = false;
    await this.rotateWhile(() => !rotated, () => (rotated = true));
  }

  /**
   * Rotate while `due()` holds. The store takes the new ring only at the
   * version this replica read; when another replica wrote first, re-read
   * and ask `due()` again (two replicas starting with an old key rotate once).
   */
  private async rotateWhile(due: () => boolean, done: () => void = () => undefined): Promise<void> {
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS && due(); attempt += 1) {
      const now = this.options.now();
      const kept = this.keys.filter((key) => this.published(key)).map(storedForm);
      kept[kept.length - 1] = { ...kept.at(-1)!, retiredAt: now };
      const next = [...kept, await newKey(now)];
      if (await this.options.documents.replace(this.options.name, this.version, JSON.stringify({ keys: next }))) {
        this.keys = await Promise.all(next.map(loaded));
        this.version += 1;
        done();
        return;
      }
      await this.refresh();
    }
    if (due()) throw new Error(`signing key ring ${this.options.name}: rotation lost to other replicas ${ROTATE_ATTEMPTS} times`);
  }
}
