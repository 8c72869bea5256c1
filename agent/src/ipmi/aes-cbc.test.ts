import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AesCbcByKey, type EcbCipherFactory } from './aes-cbc.js';

function referenceCbc(direction: 'encrypt' | 'decrypt', key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = direction === 'encrypt' ? crypto.createCipheriv('aes-128-cbc', key, iv) : crypto.createDecipheriv('aes-128-cbc', key, iv);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

function countingFactory(): EcbCipherFactory & { created: number } {
  const factory = {
    created: 0,
    createCipheriv: (algorithm: 'aes-128-ecb', key: Uint8Array, iv: null) => {
      factory.created++;
      return crypto.createCipheriv(algorithm, key, iv);
    },
    createDecipheriv: (algorithm: 'aes-128-ecb', key: Uint8Array, iv: null) => {
      factory.created++;
      return crypto.createDecipheriv(algorithm, key, iv);
    },
  };
  return factory;
}

const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

describe('AES-128-CBC over a kept ECB cipher', () => {
  it('gives the NIST SP 800-38A F.2.1 CBC-AES128 vectors, both ways', () => {
    const aes = new AesCbcByKey(crypto);
    const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
    const iv = hex('000102030405060708090a0b0c0d0e0f');
    const plaintext = hex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
    const ciphertext = hex('7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7');
    expect(Buffer.from(aes.encrypt(key, iv, plaintext)).toString('hex')).toBe(Buffer.from(ciphertext).toString('hex'));
    expect(Buffer.from(aes.decrypt(key, iv, ciphertext)).toString('hex')).toBe(Buffer.from(plaintext).toString('hex'));
  });

  it('matches createCipheriv(aes-128-cbc) byte for byte for any key, IV and whole blocks, call after call', () => {
    const aes = new AesCbcByKey(crypto);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 6 }).chain((blocks) => fc.uint8Array({ minLength: blocks * 16, maxLength: blocks * 16 })), (key, iv, data) => {
        const encrypted = aes.encrypt(key, iv, data);
        expect(encrypted).toEqual(referenceCbc('encrypt', key, iv, data));
        expect(aes.decrypt(key, iv, encrypted)).toEqual(data);
        expect(aes.decrypt(key, iv, data)).toEqual(referenceCbc('decrypt', key, iv, data));
      }),
      { numRuns: 300 },
    );
  });

  it('creates one cipher per direction for a key used for many packets, whatever view of it is passed', () => {
    const factory = countingFactory();
    const aes = new AesCbcByKey(factory);
    const k2 = new Uint8Array(crypto.randomBytes(20)); // SHA-1 K2: the codec takes its first 16 bytes each time
    for (let packet = 0; packet < 50; packet++) {
      const iv = new Uint8Array(crypto.randomBytes(16));
      const data = new Uint8Array(crypto.randomBytes(32));
      expect(aes.encrypt(k2.subarray(0, 16), iv, data)).toEqual(referenceCbc('encrypt', k2.subarray(0, 16), iv, data));
      expect(aes.decrypt(k2.subarray(0, 16), iv, data)).toEqual(referenceCbc('decrypt', k2.subarray(0, 16), iv, data));
    }
    expect(factory.created).toBe(2);
  });

  it('never uses a cipher for bytes other than its key: another key, or the same buffer rewritten', () => {
    const factory = countingFactory();
    const aes = new AesCbcByKey(factory);
    const iv = new Uint8Array(16);
    const data = new Uint8Array(16).fill(0x5a);
    const shared = new Uint8Array(32).fill(1);
    const first = shared.subarray(0, 16);
    const second = shared.subarray(16, 32);
    second.fill(2);
    expect(aes.encrypt(first, iv, data)).toEqual(referenceCbc('encrypt', first, iv, data));
    expect(aes.encrypt(second, iv, data)).toEqual(referenceCbc('encrypt', second, iv, data));
    first.fill(3);
    expect(aes.encrypt(first, iv, data)).toEqual(referenceCbc('encrypt', first, iv, data));
    expect(factory.created).toBe(3);
  });

  it('refuses what AES-128-CBC without padding cannot take', () => {
    const aes = new AesCbcByKey(crypto);
    expect(() => aes.encrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(15))).toThrow(RangeError);
    expect(() => aes.decrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(17))).toThrow(RangeError);
    expect(() => aes.encrypt(new Uint8Array(24), new Uint8Array(16), new Uint8Array(16))).toThrow(RangeError);
    expect(() => aes.decrypt(new Uint8Array(16), new Uint8Array(8), new Uint8Array(16))).toThrow(RangeError);
  });
});
