import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The part of Electron's `safeStorage` we use; injected so tests need no Electron. */
export interface Encryptor {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

export interface StoredTokens {
  relayUrl: string;
  refreshToken: string | null;
  accessToken: string;
  /** Seconds since epoch. */
  expiresAt: number;
  idToken: string | null;
  username: string | null;
  scope: string;
}

/**
 * Tokens at rest: one file, encrypted by the OS keychain (safeStorage: DPAPI,
 * Keychain, libsecret/kwallet), mode 0600. When the OS offers no encryption we
 * keep tokens in memory only and the user logs in again after a restart,
 * rather than write a refresh token in clear.
 */
export class TokenStore {
  readonly #path: string;
  readonly #encryptor: Encryptor;
  #memory: StoredTokens | null = null;

  constructor(path: string, encryptor: Encryptor) {
    this.#path = path;
    this.#encryptor = encryptor;
  }

  get persistent(): boolean {
    return this.#encryptor.isEncryptionAvailable();
  }

  async save(tokens: StoredTokens): Promise<void> {
    this.#memory = tokens;
    if (!this.persistent) return;
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    const encrypted = this.#encryptor.encryptString(JSON.stringify(tokens));
    await writeFile(this.#path, encrypted, { mode: 0o600 });
    await chmod(this.#path, 0o600);
  }

  async load(): Promise<StoredTokens | null> {
    if (this.#memory) return this.#memory;
    if (!this.persistent) return null;
    let encrypted: Buffer;
    try {
      encrypted = await readFile(this.#path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const tokens = JSON.parse(this.#encryptor.decryptString(encrypted)) as StoredTokens;
      this.#memory = tokens;
      return tokens;
    } catch {
      // Written under another OS user or keychain: unusable, so forget it and log in again.
      await this.clear();
      return null;
    }
  }

  async clear(): Promise<void> {
    this.#memory = null;
    await rm(this.#path, { force: true });
  }
}
