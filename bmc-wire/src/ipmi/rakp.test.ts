import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.js';
import { nodeCrypto } from '../testing/index.js';
import { additionalKeys, decodeRakp1, decodeRakp2, encodeRakp1, encodeRakp2, rakp2AuthCode, rakp3AuthCode, rakp4Icv, sessionIntegrityKey, type RakpContext } from './rakp.js';
import { decodeRmcpPlus, encodeRmcpPlus, type RmcpPlusSecurity } from './session-v20.js';
import { cipherSuiteById } from './suites/registry.js';
import { decodeIpmiMessage } from './message.js';
import { wireReasonOf } from './errors.js';

// Known answers computed by fixtures/rakp-kat.py with Python's hmac/hashlib and
// python3-cryptography, independently of this code.
interface Vector {
  suite: number; consoleSessionId: number; bmcSessionId: number; consoleRandom: string; bmcRandom: string; bmcGuid: string;
  role: number; username: string; password: string; rakp2AuthCode: string; rakp3AuthCode: string; sik: string; k1: string; k2: string; rakp4Icv: string;
  packet: { plaintext: string; iv: string; sequence: number; datagram: string };
}
const { vectors } = JSON.parse(readFileSync(new URL('../../fixtures/ipmi/rakp-kat.json', import.meta.url), 'utf8')) as { vectors: Vector[] };

function contextOf(vector: Vector): RakpContext {
  return {
    suite: cipherSuiteById(vector.suite)!,
    crypto: nodeCrypto,
    consoleSessionId: vector.consoleSessionId,
    bmcSessionId: vector.bmcSessionId,
    consoleRandom: fromHex(vector.consoleRandom),
    bmcRandom: fromHex(vector.bmcRandom),
    bmcGuid: fromHex(vector.bmcGuid),
    role: vector.role,
    username: vector.username,
    password: vector.password,
  };
}

describe.each(vectors)('cipher suite $suite known answers', (vector) => {
  const context = contextOf(vector);
  const sik = sessionIntegrityKey(context);
  const { k1, k2 } = additionalKeys(context, sik);
  const security: RmcpPlusSecurity = { crypto: nodeCrypto, integrity: context.suite.integrity, confidentiality: context.suite.confidentiality, k1, k2 };

  it('computes the RAKP 2 and RAKP 3 auth codes', () => {
    expect(toHex(rakp2AuthCode(context))).toBe(vector.rakp2AuthCode);
    expect(toHex(rakp3AuthCode(context))).toBe(vector.rakp3AuthCode);
  });

  it('derives SIK, K1, K2 and the RAKP 4 ICV', () => {
    expect(toHex(sik)).toBe(vector.sik);
    expect(toHex(k1)).toBe(vector.k1);
    expect(toHex(k2)).toBe(vector.k2);
    expect(toHex(rakp4Icv(context, sik))).toBe(vector.rakp4Icv);
  });

  it('encrypts and signs a session packet byte-exactly', () => {
    const datagram = encodeRmcpPlus({ payloadType: 0, sessionId: vector.bmcSessionId, sequence: vector.packet.sequence, payload: fromHex(vector.packet.plaintext) }, security, fromHex(vector.packet.iv));
    expect(toHex(datagram)).toBe(vector.packet.datagram);
  });

  it('verifies and decrypts the same packet', () => {
    const packet = decodeRmcpPlus(fromHex(vector.packet.datagram), security);
    expect(packet).toMatchObject({ payloadType: 0, encrypted: true, authenticated: true, sessionId: vector.bmcSessionId, sequence: vector.packet.sequence });
    expect(toHex(packet.payload)).toBe(vector.packet.plaintext);
    expect(decodeIpmiMessage(packet.payload).command).toBe(0x01);
  });

  it('refuses the packet after any single-bit flip (integrity) or with the wrong key', () => {
    const datagram = fromHex(vector.packet.datagram);
    for (let index = 4; index < datagram.length; index++) {
      const flipped = datagram.slice();
      flipped[index]! ^= 0x01;
      expect(() => decodeRmcpPlus(flipped, security), `byte ${index}`).toThrow();
    }
    const wrongKey = { ...security, k1: new Uint8Array(20).fill(9) };
    expect(wireReasonOf(catchError(() => decodeRmcpPlus(datagram, wrongKey)))).toBe('BAD_INTEGRITY');
  });
});

describe('RAKP message codecs', () => {
  it('round-trips RAKP 1 and pads the username only when asked', () => {
    const message = { tag: 3, bmcSessionId: 0x11223344, consoleRandom: new Uint8Array(16).fill(7), role: 0x14, username: 'admin' };
    expect(encodeRakp1(message)).toHaveLength(33);
    expect(encodeRakp1({ ...message, padUsername: true })).toHaveLength(44);
    expect(decodeRakp1(encodeRakp1(message))).toMatchObject({ ...message, padUsername: false });
    expect(decodeRakp1(encodeRakp1({ ...message, padUsername: true })).username).toBe('admin');
  });

  it('decodes an error RAKP 2 from its first 8 bytes and refuses an oversize one', () => {
    expect(decodeRakp2(encodeRakp2({ tag: 1, status: 0x0d, consoleSessionId: 5, bmcRandom: new Uint8Array(), bmcGuid: new Uint8Array(), authCode: new Uint8Array() }))).toMatchObject({ status: 0x0d, consoleSessionId: 5 });
    expect(wireReasonOf(catchError(() => decodeRakp2(new Uint8Array(80))))).toBe('TOO_LONG');
    expect(wireReasonOf(catchError(() => decodeRakp1(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, ...new Uint8Array(19), 17))))).toBe('BAD_LENGTH');
  });
});

function catchError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
