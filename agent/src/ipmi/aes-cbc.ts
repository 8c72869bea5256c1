import type { Cipher, Decipher } from 'node:crypto';

/** The part of node:crypto this file needs (tests may count the ciphers it creates). */
export interface EcbCipherFactory {
  createCipheriv(algorithm: 'aes-128-ecb', key: Uint8Array, iv: null): Cipher;
  createDecipheriv(algorithm: 'aes-128-ecb', key: Uint8Array, iv: null): Decipher;
}

const BLOCK = 16;

interface KeyedCiphers {
  readonly byteOffset: number;
  readonly key: Uint8Array;
  encrypt: Cipher | undefined;
  decrypt: Decipher | undefined;
}

/**
 * AES-128-CBC without padding (IPMI v2.0 §13.29: the session's own 1..n pad
 * is inside `data`) over one AES-128-ECB cipher per session key, kept for as
 * long as the key lives. A command session encrypts every request and
 * decrypts every answer with the same K2 and a fresh IV; a CBC cipher object
 * per packet (createCipheriv: the key schedule, the JS stream object, update
 * and final) was most of the agent's crypto cost per poll. CBC is ECB over
 * `plaintext XOR previous ciphertext block` (NIST SP 800-38A §6.2), so the
 * bytes on the wire are those createCipheriv('aes-128-cbc') gives.
 *
 * Keys are looked up by the ArrayBuffer they sit in (a session's K2 is one
 * buffer for its whole life; the codec passes `k2.subarray(0, 16)` views of
 * it) and compared byte for byte, so a reused buffer with other bytes gets
 * its own cipher, and a dead session's ciphers go with its key.
 */
export class AesCbcByKey {
  readonly #ciphers = new WeakMap<ArrayBufferLike, KeyedCiphers[]>();

  constructor(private readonly factory: EcbCipherFactory) {}

  encrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    checkLengths(key, iv, data);
    const entry = this.#entry(key);
    entry.encrypt ??= this.factory.createCipheriv('aes-128-ecb', entry.key, null).setAutoPadding(false);
    const output = new Uint8Array(data.length);
    const block = new Uint8Array(BLOCK);
    let previous = iv;
    for (let offset = 0; offset < data.length; offset += BLOCK) {
      for (let index = 0; index < BLOCK; index++) block[index] = data[offset + index]! ^ previous[index]!;
      output.set(entry.encrypt.update(block), offset);
      previous = output.subarray(offset, offset + BLOCK);
    }
    return output;
  }

  decrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
    checkLengths(key, iv, data);
    const entry = this.#entry(key);
    entry.decrypt ??= this.factory.createDecipheriv('aes-128-ecb', entry.key, null).setAutoPadding(false);
    // Without padding ECB holds nothing back: whole blocks in, as many out.
    const output = new Uint8Array(entry.decrypt.update(data));
    for (let offset = 0; offset < output.length; offset += BLOCK) {
      const previous = offset === 0 ? iv : data.subarray(offset - BLOCK, offset);
      for (let index = 0; index < BLOCK; index++) output[offset + index]! ^= previous[index]!;
    }
    return output;
  }

  #entry(key: Uint8Array): KeyedCiphers {
    let entries = this.#ciphers.get(key.buffer);
    if (entries === undefined) {
      entries = [];
      this.#ciphers.set(key.buffer, entries);
    }
    for (const entry of entries) {
      if (entry.byteOffset === key.byteOffset && sameBytes(entry.key, key)) return entry;
    }
    // A buffer whose bytes changed under the same offset keeps one entry: the stale one is replaced.
    const stale = entries.findIndex((entry) => entry.byteOffset === key.byteOffset);
    const entry: KeyedCiphers = { byteOffset: key.byteOffset, key: key.slice(), encrypt: undefined, decrypt: undefined };
    if (stale >= 0) entries[stale] = entry;
    else entries.push(entry);
    return entry;
  }
}

function checkLengths(key: Uint8Array, iv: Uint8Array, data: Uint8Array): void {
  if (key.length !== BLOCK) throw new RangeError(`AES-128 key of ${key.length} bytes`);
  if (iv.length !== BLOCK) throw new RangeError(`AES IV of ${iv.length} bytes`);
  if (data.length % BLOCK !== 0) throw new RangeError(`AES-CBC without padding over ${data.length} bytes (not whole blocks)`);
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index++) if (left[index] !== right[index]) return false;
  return true;
}
