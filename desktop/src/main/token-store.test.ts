import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Encryptor, type StoredTokens, TokenStore } from './token-store.js';

// An encryptor with safeStorage's contract: opaque bytes out, original string back,
// and a wrong key (another OS user) makes decryption throw.
function xorEncryptor(key: number, available = true): Encryptor {
  const flip = (bytes: Buffer) => Buffer.from(bytes.map((byte) => byte ^ key));
  return {
    isEncryptionAvailable: () => available,
    encryptString: (plainText) => Buffer.concat([Buffer.from('v10'), flip(Buffer.from(plainText, 'utf8'))]),
    decryptString: (encrypted) => {
      if (encrypted.subarray(0, 3).toString() !== 'v10') throw new Error('bad header');
      return flip(encrypted.subarray(3)).toString('utf8');
    },
  };
}

const tokens: StoredTokens = {
  relayUrl: 'https://relay.example',
  refreshToken: 'refresh-secret-value',
  accessToken: 'access.jwt.value',
  expiresAt: 1_900_000_000,
  idToken: null,
  username: 'operator',
  scope: 'openid offline_access',
};

describe('TokenStore', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'lightsout-tokens-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('writes only encrypted bytes, mode 0600, and reads them back in a new instance', async () => {
    const path = join(directory, 'auth', 'tokens.bin');
    await new TokenStore(path, xorEncryptor(0x5a)).save(tokens);
    const onDisk = await readFile(path);
    expect(onDisk.includes(Buffer.from('refresh-secret-value'))).toBe(false);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await new TokenStore(path, xorEncryptor(0x5a)).load()).toEqual(tokens);
  });

  it('keeps tokens in memory only when the OS offers no encryption', async () => {
    const path = join(directory, 'tokens.bin');
    const store = new TokenStore(path, xorEncryptor(0x5a, false));
    await store.save(tokens);
    expect(await store.load()).toEqual(tokens);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await new TokenStore(path, xorEncryptor(0x5a, false)).load()).toBeNull();
  });

  it('forgets a file it cannot decrypt instead of failing every start', async () => {
    const path = join(directory, 'tokens.bin');
    await writeFile(path, Buffer.from('garbage'));
    const store = new TokenStore(path, xorEncryptor(0x5a));
    expect(await store.load()).toBeNull();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('clear removes the file and the memory copy', async () => {
    const path = join(directory, 'tokens.bin');
    const store = new TokenStore(path, xorEncryptor(0x5a));
    await store.save(tokens);
    await store.clear();
    expect(await store.load()).toBeNull();
  });
});
