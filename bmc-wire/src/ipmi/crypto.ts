/**
 * The only cryptography the codecs need, injected so they stay pure:
 * `ipmiCryptoFrom(node:crypto)` implements it for the agent and bmcsim, and tests or
 * other runtimes may pass their own.
 */
export type HashName = 'sha1' | 'sha256' | 'md5';

export interface IpmiCrypto {
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  digest(hash: HashName, data: Uint8Array): Uint8Array;
  /** AES-128-CBC without padding: `data.length` is a multiple of 16. */
  aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(length: number): Uint8Array;
}

/**
 * The part of a node:crypto-shaped module IpmiCrypto is built on, typed
 * structurally so this package needs no Node types: the agent and bmcsim
 * pass `node:crypto` itself (`ipmiCryptoFrom(crypto)`), and nothing else of
 * the runtime leaks in.
 */
export interface CryptoModuleLike {
  createHmac(algorithm: string, key: Uint8Array): { update(data: Uint8Array): { digest(): Uint8Array } };
  createHash(algorithm: string): { update(data: Uint8Array): { digest(): Uint8Array } };
  createCipheriv(algorithm: 'aes-128-cbc', key: Uint8Array, iv: Uint8Array): CipherLike;
  createDecipheriv(algorithm: 'aes-128-cbc', key: Uint8Array, iv: Uint8Array): CipherLike;
  randomBytes(length: number): Uint8Array;
}

interface CipherLike {
  setAutoPadding(autoPadding: boolean): CipherLike;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}

export function ipmiCryptoFrom(crypto: CryptoModuleLike): IpmiCrypto {
  const run = (cipher: CipherLike, data: Uint8Array) => {
    cipher.setAutoPadding(false);
    return concat(cipher.update(data), cipher.final());
  };
  return {
    hmac: (hash, key, data) => new Uint8Array(crypto.createHmac(hash, key).update(data).digest()),
    digest: (hash, data) => new Uint8Array(crypto.createHash(hash).update(data).digest()),
    aesCbcEncrypt: (key, iv, data) => run(crypto.createCipheriv('aes-128-cbc', key, iv), data),
    aesCbcDecrypt: (key, iv, data) => run(crypto.createDecipheriv('aes-128-cbc', key, iv), data),
    randomBytes: (length) => new Uint8Array(crypto.randomBytes(length)),
  };
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head, 0);
  bytes.set(tail, head.length);
  return bytes;
}
