import fc from 'fast-check';
import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../bytes.js';
import { wireReasonOf, type IpmiWireReason } from '../errors.js';
import { decodesOrRefuses } from '../../testing/index.js';
import {
  decodeFru, decodeFruBoardArea, decodeFruCommonHeader, decodeFruInventoryAreaInfo, decodeFruProductArea, decodeReadFruData, decodeReadFruDataRequest, encodeFru,
  readFruDataRequest, getFruInventoryAreaInfoRequest,
} from './fru.js';
import { decodeSystemInfoStringSet, decodeSystemInfoStringStart, encodeSystemInfoStringSet, getSystemInfoRequest, systemInfoText } from './system-info.js';

// The lab BMC's FRU image (lab/assets/ipmi/lab.emu carries the same bytes), laid out by hand per the FRU spec:
// header   01 | internal 00 | chassis 01 (8) | board 05 (40) | product 0b (88) | multirecord 00 | pad 00 | checksum ee
// chassis  01 04 | type 17 (rack mount) | c7 "LO-CH-1" | c8 "CHS-0042" | c6 "rack 7" (custom) | c1 | pad | 54
// board    01 06 | language 00 | d6 58 ea (15358166 minutes after 1996-01-01 = 2025-03-14 09:26 UTC) | cd "Lightsout Lab" |
//          c8 "LB-Board" | 83 b3 4b 49 (6-bit packed "SN42") | 43 12 34 b5 (BCD plus "1234-5") | c0 (no FRU file ID) |
//          c5 "rev A" (custom) | c1 | pad | bb
// product  01 08 | language 00 | c9 "Lightsout" | cf "Lab Server 1000" | c7 "LS-1000" | c3 "1.2" | c8 "PSN-0042" | c7 "asset-7" |
//          c0 (no FRU file ID) | c1 | pad | f5
const HEADER = '010001050b0000ee';
const CHASSIS = '010417c74c4f2d43482d31c84348532d30303432c67261636b2037c100000054';
const BOARD = '010600d658eacd4c69676874736f7574204c6162c84c422d426f61726483b34b49431234b5c0c57265762041c10000bb';
const PRODUCT = '010800c94c69676874736f7574cf4c6162205365727665722031303030c74c532d31303030c3312e32c850534e2d30303432c761737365742d37c0c1000000f5';
const LAB_FRU = fromHex(HEADER + CHASSIS + BOARD + PRODUCT);

function refusal(decode: () => unknown): { code: string; reason: IpmiWireReason | undefined } {
  try {
    decode();
  } catch (error) {
    if (!(error instanceof LightsoutError)) throw error;
    return { code: error.code, reason: wireReasonOf(error) };
  }
  throw new Error('decoded without refusing');
}

/** `bytes` with `index` set to `value` and the zero checksum of the area [start, end) made good again. */
function patched(bytes: Uint8Array, index: number, value: number, area?: { start: number; end: number }): Uint8Array {
  const out = bytes.slice();
  out[index] = value;
  if (area) {
    let sum = 0;
    for (let at = area.start; at < area.end - 1; at++) sum = (sum + out[at]!) & 0xff;
    out[area.end - 1] = (0x100 - sum) & 0xff;
  }
  return out;
}

describe('FRU inventory commands (IPMI v2.0 §34)', () => {
  it('builds Get FRU Inventory Area Info and Read FRU Data requests byte for byte', () => {
    expect(getFruInventoryAreaInfoRequest(0)).toEqual({ netFn: 0x0a, command: 0x10, data: Uint8Array.of(0) });
    expect(readFruDataRequest(0, 0x0123, 32)).toEqual({ netFn: 0x0a, command: 0x11, data: Uint8Array.of(0, 0x23, 0x01, 32) });
    expect(decodeReadFruDataRequest(Uint8Array.of(0, 0x23, 0x01, 32))).toEqual({ deviceId: 0, offset: 0x123, count: 32 });
  });

  it('decodes the inventory size and the access mode', () => {
    expect(decodeFruInventoryAreaInfo(Uint8Array.of(0x00, 0x01, 0x00))).toEqual({ size: 256, byWords: false });
    expect(decodeFruInventoryAreaInfo(Uint8Array.of(0x00, 0x08, 0x01))).toEqual({ size: 2048, byWords: true });
    expect(refusal(() => decodeFruInventoryAreaInfo(Uint8Array.of(0x00, 0x01)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
  });

  it('returns the data Read FRU Data carries and refuses a count past it', () => {
    expect(decodeReadFruData(Uint8Array.of(3, 0xaa, 0xbb, 0xcc))).toEqual(Uint8Array.of(0xaa, 0xbb, 0xcc));
    expect(refusal(() => decodeReadFruData(Uint8Array.of(4, 0xaa, 0xbb, 0xcc)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
    expect(refusal(() => decodeReadFruData(new Uint8Array()))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
    // word access: the count is in 16-bit words
    expect(decodeReadFruData(Uint8Array.of(2, 0xaa, 0xbb, 0xcc, 0xdd), true)).toEqual(Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd));
    expect(refusal(() => decodeReadFruData(Uint8Array.of(2, 0xaa, 0xbb, 0xcc), true))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
  });
});

describe('FRU information (Platform Management FRU Information Storage Definition v1.0 rev 1.3)', () => {
  it('decodes the common header into byte offsets, absent areas left out', () => {
    expect(decodeFruCommonHeader(LAB_FRU)).toEqual({ chassis: 8, board: 40, product: 88 });
  });

  it('decodes every info area of the lab image, each field type included', () => {
    expect(decodeFru(LAB_FRU)).toEqual({
      chassis: { type: 0x17, partNumber: 'LO-CH-1', serialNumber: 'CHS-0042', custom: ['rack 7'] },
      board: { language: 0, manufactured: '2025-03-14T09:26:00.000Z', manufacturer: 'Lightsout Lab', productName: 'LB-Board', serialNumber: 'SN42', partNumber: '1234-5', custom: ['rev A'] },
      product: { language: 0, manufacturer: 'Lightsout', productName: 'Lab Server 1000', partNumber: 'LS-1000', version: '1.2', serialNumber: 'PSN-0042', assetTag: 'asset-7', custom: [] },
    });
  });

  it('reads a board without a manufacturing date as null and a binary field as hex', () => {
    // 01 02 | language 00 | date 000000 | c0 | 02 01 ff (2 binary bytes) | c1 | pad | checksum
    const board = fromHex('010200000000c0' + '0201ff' + 'c1' + '00000000' + '00');
    const fixed = patched(board, 15, 0, { start: 0, end: 16 });
    expect(decodeFruBoardArea(fixed)).toEqual({ language: 0, manufactured: null, productName: '01ff', custom: [] });
  });

  it('decodes 8-bit fields of a non-English area as UCS-2, least significant byte first (§13)', () => {
    // 01 02 | language 0x02 (not English) | c4 "Ab" in UCS-2 LE | c1 | pad | checksum
    const product = fromHex('010202c441006200c1000000000000' + '00');
    const fixed = patched(product, 15, 0, { start: 0, end: 16 });
    expect(decodeFruProductArea(fixed)).toEqual({ language: 2, manufacturer: 'Ab', custom: [] });
  });

  it('takes language 25 as English too', () => {
    const product = fromHex('010219c24162c1000000000000000000');
    expect(decodeFruProductArea(patched(product, 15, 0, { start: 0, end: 16 }))).toEqual({ language: 25, manufacturer: 'Ab', custom: [] });
  });

  it('reads an area that ends its fields early, as ipmitool does', () => {
    // product area whose fields stop after the manufacturer (0xC1 where the product name would be)
    const product = fromHex('010200c24162c1000000000000000000');
    expect(decodeFruProductArea(patched(product, 15, 0, { start: 0, end: 16 }))).toEqual({ language: 0, manufacturer: 'Ab', custom: [] });
  });
});

describe('FRU information: hostile input gets a typed refusal, never a crash', () => {
  it('an unprogrammed FRU (all 0xFF, or all zero) is FRU_UNPROGRAMMED', () => {
    expect(refusal(() => decodeFru(new Uint8Array(256).fill(0xff)))).toEqual({ code: 'BMC_UNSUPPORTED', reason: 'FRU_UNPROGRAMMED' });
    expect(refusal(() => decodeFru(new Uint8Array(256)))).toEqual({ code: 'BMC_UNSUPPORTED', reason: 'FRU_UNPROGRAMMED' });
  });

  it('a header that does not sum to zero is BAD_CHECKSUM', () => {
    expect(refusal(() => decodeFru(patched(LAB_FRU, 7, 0xef)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_CHECKSUM' });
  });

  it('a header of another format version is BAD_FIELD', () => {
    expect(refusal(() => decodeFru(patched(LAB_FRU, 0, 0x02, { start: 0, end: 8 })))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_FIELD' });
  });

  it('a header shorter than 8 bytes is TRUNCATED', () => {
    expect(refusal(() => decodeFru(LAB_FRU.subarray(0, 7)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
  });

  it('an area offset past the end of the FRU is BAD_OFFSET', () => {
    // product offset 0x20 × 8 = 256, past the 152-byte image
    expect(refusal(() => decodeFru(patched(LAB_FRU, 4, 0x20, { start: 0, end: 8 })))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_OFFSET' });
  });

  it('an area that runs past the end of the FRU is TRUNCATED', () => {
    expect(refusal(() => decodeFru(LAB_FRU.subarray(0, 140)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
  });

  it('an area that does not sum to zero is BAD_CHECKSUM', () => {
    expect(refusal(() => decodeFru(patched(LAB_FRU, 100, 0x4d)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_CHECKSUM' });
  });

  it('a field whose length runs past its area (checksum made good) is TRUNCATED', () => {
    // the chassis part number's type/length c7 → ff: 63 bytes in a 32-byte area
    expect(refusal(() => decodeFru(patched(LAB_FRU, 11, 0xff, { start: 8, end: 40 })))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'TRUNCATED' });
  });

  it('an area of length 0 is BAD_LENGTH', () => {
    expect(refusal(() => decodeFru(patched(LAB_FRU, 9, 0x00)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_LENGTH' });
  });

  it('survives any bytes after a valid header, and any header', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodesOrRefuses(decodeFru, bytes)));
    fc.assert(fc.property(fc.uint8Array({ minLength: 144, maxLength: 144 }), (body) => decodesOrRefuses(decodeFru, Uint8Array.of(...LAB_FRU.subarray(0, 8), ...body))));
  });
});

describe('FRU image for the BMC role', () => {
  it('encodes fields that decode back, areas 8-byte aligned', () => {
    const image = encodeFru({ chassis: { type: 0x17, serialNumber: 'C1' }, board: { manufacturer: 'M', manufactured: new Date('2025-01-01T00:00:00Z') }, product: { productName: 'P', serialNumber: 'S' } });
    expect(image.length % 8).toBe(0);
    expect(decodeFru(image)).toEqual({
      chassis: { type: 0x17, serialNumber: 'C1', custom: [] },
      board: { language: 0, manufactured: '2025-01-01T00:00:00.000Z', manufacturer: 'M', custom: [] },
      product: { language: 0, productName: 'P', serialNumber: 'S', custom: [] },
    });
  });
});

describe('Get System Info Parameters: system firmware version (IPMI v2.0 §22.14b)', () => {
  it('builds the request for a set of parameter 1', () => {
    expect(getSystemInfoRequest(1, 2)).toEqual({ netFn: 0x06, command: 0x59, data: Uint8Array.of(0x00, 0x01, 0x02, 0x00) });
  });

  it('decodes set 0 (encoding, length, first 14 bytes) and later sets (16 bytes each)', () => {
    // revision 11 | set 00 | encoding 00 (ASCII + Latin-1) | length 12h (18) | "BIOS 2.17.0 (2"; then revision 11 | set 01 | "025)" NUL-padded
    const first = fromHex('1100' + '00' + '12' + '42494f5320322e31372e30202832');
    const start = decodeSystemInfoStringStart(first);
    expect(start).toEqual({ encoding: 0, length: 18, bytes: fromHex('42494f5320322e31372e30202832') });
    const rest = decodeSystemInfoStringSet(fromHex('1101' + '30323529' + '00'.repeat(12)), 1);
    expect(rest.length).toBe(16);
    expect(systemInfoText(start.encoding, Uint8Array.of(...start.bytes, ...rest).subarray(0, start.length))).toBe('BIOS 2.17.0 (2025)');
  });

  it('refuses a set other than the one asked and a reserved encoding', () => {
    expect(refusal(() => decodeSystemInfoStringSet(fromHex('1102' + '00'.repeat(16)), 1))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_FIELD' });
    expect(refusal(() => systemInfoText(7, Uint8Array.of(0x41)))).toEqual({ code: 'MALFORMED_MESSAGE', reason: 'BAD_FIELD' });
  });

  it('encodes sets that decode back (the BMC role)', () => {
    const text = 'U-Boot 2024.10 for lightsout';
    const set0 = decodeSystemInfoStringStart(encodeSystemInfoStringSet(text, 0));
    const set1 = decodeSystemInfoStringSet(encodeSystemInfoStringSet(text, 1), 1);
    expect(systemInfoText(set0.encoding, Uint8Array.of(...set0.bytes, ...set1).subarray(0, set0.length))).toBe(text);
  });
});
