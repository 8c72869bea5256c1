import fc from 'fast-check';
import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import {
  decodeSecurityResult,
  decodeSecurityType33,
  decodeSecurityTypes,
  encodeSecurityRefusal,
  encodeSecurityResult,
  encodeSecurityType33,
  encodeSecurityTypes,
} from './security-messages.js';
import { MAX_REASON_LENGTH } from './wire.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/ /g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('security types list (RFC 6143 §7.1.2)', () => {
  it('decodes Xvnc’s VeNCrypt-first offer byte-exactly', () => {
    expect(decodeSecurityTypes(hex('02 13 02'))).toEqual({ kind: 'value', value: { kind: 'types', types: [19, 2] }, length: 3 });
    expect(toHex(encodeSecurityTypes([1]))).toBe('0101');
  });

  it('decodes a refusal (count 0) with its reason', () => {
    const bytes = encodeSecurityRefusal('Too many authentication failures');
    expect(toHex(bytes.subarray(0, 5))).toBe('0000000020');
    expect(decodeSecurityTypes(bytes)).toEqual({ kind: 'value', value: { kind: 'failure', reason: 'Too many authentication failures' }, length: bytes.length });
  });

  it('needs more bytes, never throws, on every truncation', () => {
    for (const full of [hex('03 01 02 13'), encodeSecurityRefusal('nope')]) {
      for (let length = 0; length < full.length; length++) expect(decodeSecurityTypes(full.subarray(0, length)).kind).toBe('needMore');
    }
  });

  it('refuses a huge reason length before waiting for it', () => {
    expect(() => decodeSecurityTypes(hex('00 7fffffff'))).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    expect(() => decodeSecurityTypes(Uint8Array.from([0, 0, 0, 0x10, 0x01]))).toThrow(/exceeds the limit/);
    expect(decodeSecurityTypes(Uint8Array.from([0, 0, 0, MAX_REASON_LENGTH >> 8, 0])).kind).toBe('needMore');
  });

  it('refuses type 0 inside a list', () => {
    expect(() => decodeSecurityTypes(hex('02 01 00'))).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
  });

  it('only ever returns a value, needMore or a LightsoutError for any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const result = decodeSecurityTypes(bytes);
          if (result.kind === 'value') expect(result.length).toBeLessThanOrEqual(bytes.length);
        } catch (error) {
          expect(error).toBeInstanceOf(LightsoutError);
        }
      }),
    );
  });
});

describe('security type, version 3.3 (RFC 6143 Appendix A.1)', () => {
  it('is a u32 chosen by the server', () => {
    expect(toHex(encodeSecurityType33(2))).toBe('00000002');
    expect(decodeSecurityType33(hex('00000001'))).toEqual({ kind: 'value', value: { kind: 'types', types: [1] }, length: 4 });
  });

  it('0 carries a reason', () => {
    expect(decodeSecurityType33(hex('00000000 00000003 626164'))).toEqual({ kind: 'value', value: { kind: 'failure', reason: 'bad' }, length: 11 });
    expect(decodeSecurityType33(hex('00000000 00000003 6261')).kind).toBe('needMore');
  });

  it('refuses out-of-range types', () => {
    expect(() => decodeSecurityType33(hex('00010000'))).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
  });
});

describe('SecurityResult (RFC 6143 §7.1.3)', () => {
  it('OK is four zero bytes in every version', () => {
    expect(toHex(encodeSecurityResult({ kind: 'ok' }, '3.8'))).toBe('00000000');
    expect(decodeSecurityResult(hex('00000000'), '3.3')).toEqual({ kind: 'value', value: { kind: 'ok' }, length: 4 });
  });

  it('3.8 failure has a reason; 3.3/3.7 failure has none', () => {
    const failure = encodeSecurityResult({ kind: 'failed', status: 1, reason: 'password check failed!' }, '3.8');
    expect(toHex(failure)).toBe(`00000001 00000016 ${Buffer.from('password check failed!').toString('hex')}`.replace(/ /g, ''));
    expect(decodeSecurityResult(failure, '3.8')).toEqual({ kind: 'value', value: { kind: 'failed', status: 1, reason: 'password check failed!' }, length: failure.length });
    expect(decodeSecurityResult(hex('00000001'), '3.7')).toEqual({ kind: 'value', value: { kind: 'failed', status: 1, reason: undefined }, length: 4 });
  });

  it('truncation needs more; unknown status and huge reason are malformed', () => {
    expect(decodeSecurityResult(hex('000000'), '3.8').kind).toBe('needMore');
    expect(decodeSecurityResult(hex('00000001 0000'), '3.8').kind).toBe('needMore');
    expect(() => decodeSecurityResult(hex('00000007'), '3.8')).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    expect(() => decodeSecurityResult(hex('00000001 ffffffff'), '3.8')).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
  });

  it('decodes Latin-1 reasons that are not valid UTF-8', () => {
    expect(decodeSecurityResult(hex('00000001 00000002 e96c'), '3.8')).toMatchObject({ value: { reason: 'él' } });
  });
});
