import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../testing/index.js';
import { decodeRmcpPlus, encodeRmcpPlus, PAYLOAD_TYPE, type RmcpPlusSecurity } from './session-v20.js';
import { cipherSuite17 } from './suites/suite-17.js';
import { cipherSuite3 } from './suites/suite-3.js';
import { cipherSuite2 } from './suites/suite-2.js';
import { decodesOrRefuses, reasonOfThrow } from '../testing/index.js';
import { classifyDatagram, decodeAsf, encodeAsf } from './rmcp.js';
import { toHex } from './bytes.js';

const securityOf = (suite: typeof cipherSuite3): RmcpPlusSecurity => ({ crypto: nodeCrypto, integrity: suite.integrity, confidentiality: suite.confidentiality, k1: new Uint8Array(32).fill(1), k2: new Uint8Array(32).fill(2) });

describe('RMCP+ session packet (§13.6, §13.28, §13.29)', () => {
  it('round-trips any payload in the clear and under suites 2, 3 and 17', () => {
    for (const security of [undefined, securityOf(cipherSuite2), securityOf(cipherSuite3), securityOf(cipherSuite17)]) {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (payload, sessionId, sequence) => {
        const datagram = encodeRmcpPlus({ payloadType: PAYLOAD_TYPE.sol, sessionId, sequence, payload }, security);
        expect(classifyDatagram(datagram)).toBe('rmcp+');
        const packet = decodeRmcpPlus(datagram, security);
        expect(packet).toMatchObject({ payloadType: 1, sessionId, sequence, encrypted: security?.confidentiality.aes === true, authenticated: security !== undefined });
        expect(Array.from(packet.payload)).toEqual(Array.from(payload));
        if (security !== undefined) expect((datagram.length - 4 - security.integrity.authCodeLength) % 4).toBe(0);
      }), { numRuns: 60 });
    }
  });

  it('refuses truncation, oversize lengths, bad pads and unverifiable packets', () => {
    const security = securityOf(cipherSuite3);
    const datagram = encodeRmcpPlus({ payloadType: 0, sessionId: 9, sequence: 3, payload: Uint8Array.of(1, 2, 3) }, security);
    expect(reasonOfThrow(() => decodeRmcpPlus(datagram.subarray(0, datagram.length - 1), security))).toBe('TRUNCATED');
    expect(reasonOfThrow(() => decodeRmcpPlus(datagram))).toBe('BAD_INTEGRITY');
    const oversize = datagram.slice();
    oversize[14] = 0xff;
    oversize[15] = 0xff;
    expect(reasonOfThrow(() => decodeRmcpPlus(oversize, security))).toBe('TOO_LONG');
    const clear = encodeRmcpPlus({ payloadType: 0, sessionId: 0, sequence: 0, payload: Uint8Array.of(1) });
    expect(reasonOfThrow(() => decodeRmcpPlus(Uint8Array.of(...clear, 0)))).toBe('BAD_LENGTH');
    const encryptedFlag = clear.slice();
    encryptedFlag[5] = 0x80;
    expect(reasonOfThrow(() => decodeRmcpPlus(encryptedFlag))).toBe('BAD_PADDING');
    for (const suite of [cipherSuite3, cipherSuite17]) {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => decodesOrRefuses((value) => decodeRmcpPlus(value, securityOf(suite)), bytes)));
      fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 120 }), (tail) => decodesOrRefuses((value) => decodeRmcpPlus(value, securityOf(suite)), Uint8Array.of(6, 0, 0xff, 7, 6, 0xc0, ...tail))));
    }
  });

  it('encodes the ASF presence ping as DMTF ASF 2.0 §3.2.4 lays it out', () => {
    expect(toHex(encodeAsf({ kind: 'ping', tag: 0x42 }))).toBe('0600ff06000011be80420000');
    expect(decodeAsf(encodeAsf({ kind: 'pong', tag: 7, ipmiSupported: true }))).toEqual({ kind: 'pong', tag: 7, ipmiSupported: true });
    expect(classifyDatagram(encodeAsf({ kind: 'ping', tag: 1 }))).toBe('asf');
    expect(reasonOfThrow(() => classifyDatagram(Uint8Array.of(7, 0, 0xff, 7, 0)))).toBe('BAD_RMCP_HEADER');
  });
});
