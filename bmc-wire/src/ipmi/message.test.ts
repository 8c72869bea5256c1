import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.js';
import { decodeIpmiMessage, encodeIpmiMessage, requestMessage, responseMessage, type IpmiMessage } from './message.js';
import { decodesOrRefuses, reasonOfThrow } from '../testing/index.js';

const message = fc.record<IpmiMessage>({
  destinationAddress: fc.integer({ min: 0, max: 255 }),
  netFn: fc.integer({ min: 0, max: 63 }),
  destinationLun: fc.integer({ min: 0, max: 3 }),
  sourceAddress: fc.integer({ min: 0, max: 255 }),
  sequence: fc.integer({ min: 0, max: 63 }),
  sourceLun: fc.integer({ min: 0, max: 3 }),
  command: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 255 }),
});

describe('IPMI message (§13.8)', () => {
  it('encodes Get Chassis Status as the spec example bytes', () => {
    // rsSA 20, netFn 0 / LUN 0, chk e0, rqSA 81, rqSeq 1, cmd 01, chk 7a
    expect(toHex(encodeIpmiMessage(requestMessage(0x00, 0x01, 1)))).toBe('2000e08104017a');
  });

  it('round-trips any message and the response mirrors the request', () => {
    fc.assert(fc.property(message, (value) => {
      expect(decodeIpmiMessage(encodeIpmiMessage(value))).toEqual(value);
    }));
    const request = requestMessage(0x06, 0x38, 9, Uint8Array.of(0x8e, 4));
    const response = decodeIpmiMessage(encodeIpmiMessage(responseMessage(request, 0, Uint8Array.of(1, 2))));
    expect(response).toMatchObject({ destinationAddress: 0x81, sourceAddress: 0x20, netFn: 0x07, sequence: 9, command: 0x38 });
    expect(Array.from(response.data)).toEqual([0, 1, 2]);
  });

  it('refuses bad checksums, short and oversize messages', () => {
    expect(reasonOfThrow(() => decodeIpmiMessage(fromHex('2000e18104017a')))).toBe('BAD_CHECKSUM');
    expect(reasonOfThrow(() => decodeIpmiMessage(fromHex('2000e08104017b')))).toBe('BAD_CHECKSUM');
    expect(reasonOfThrow(() => decodeIpmiMessage(fromHex('2000e081')))).toBe('TRUNCATED');
    expect(reasonOfThrow(() => encodeIpmiMessage(requestMessage(0, 1, 0, new Uint8Array(256))))).toBe('TOO_LONG');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => decodesOrRefuses(decodeIpmiMessage, bytes)));
  });
});
