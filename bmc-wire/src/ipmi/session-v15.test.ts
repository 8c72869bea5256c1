import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { concatBytes, paddedAscii, toHex, u32le } from './bytes.js';
import { nodeCrypto } from '../testing/index.js';
import { AUTH_TYPE, decodeV15, encodeV15, v15AuthCode, verifyV15AuthCode } from './session-v15.js';
import { decodesOrRefuses, reasonOfThrow } from '../testing/index.js';

describe('IPMI v1.5 session packet (§22.12, §22.17)', () => {
  it('round-trips packets with and without an AuthCode', () => {
    fc.assert(fc.property(fc.constantFrom(0, 2, 4), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 255 }), (authType, sequence, sessionId, message) => {
      const packet = { authType, sequence, sessionId, authCode: authType === 0 ? undefined : new Uint8Array(16).fill(3), message };
      expect(decodeV15(encodeV15(packet))).toEqual(packet);
    }));
  });

  it('computes the MD5 AuthCode as MD5(pw16 ‖ SID ‖ message ‖ seq ‖ pw16) and straight as the padded password', () => {
    const message = Uint8Array.of(0x20, 0, 0xe0, 0x81, 4, 1, 0x7a);
    const pw16 = paddedAscii('adminpass', 16);
    const expected = createHash('md5').update(concatBytes(pw16, u32le(0x1234), message, u32le(5), pw16)).digest('hex');
    expect(toHex(v15AuthCode(nodeCrypto, 'md5', 'adminpass', 0x1234, 5, message)!)).toBe(expected);
    expect(toHex(v15AuthCode(nodeCrypto, 'straight', 'adminpass', 1, 1, message)!)).toBe(toHex(pw16));
    const packet = { authType: AUTH_TYPE.md5, sequence: 5, sessionId: 0x1234, authCode: v15AuthCode(nodeCrypto, 'md5', 'adminpass', 0x1234, 5, message), message };
    verifyV15AuthCode(nodeCrypto, 'md5', 'adminpass', packet);
    expect(reasonOfThrow(() => verifyV15AuthCode(nodeCrypto, 'md5', 'wrong', packet))).toBe('BAD_AUTH_CODE');
  });

  it('refuses hostile datagrams with typed errors', () => {
    expect(reasonOfThrow(() => decodeV15(Uint8Array.of(6, 0, 0xff, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1)))).toBe('TRUNCATED');
    expect(reasonOfThrow(() => decodeV15(Uint8Array.of(6, 0, 0xff, 7, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0)))).toBe('BAD_AUTH_TYPE');
    expect(reasonOfThrow(() => decodeV15(Uint8Array.of(6, 0, 0xff, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2)))).toBe('BAD_LENGTH');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => decodesOrRefuses(decodeV15, bytes)));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (tail) => decodesOrRefuses(decodeV15, Uint8Array.of(6, 0, 0xff, 7, ...tail))));
  });
});
