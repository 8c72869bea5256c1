/**
 * The only cryptography the codecs need, injected so they stay pure:
 * `node-crypto.ts` implements it with node:crypto for the agent, and tests or
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
