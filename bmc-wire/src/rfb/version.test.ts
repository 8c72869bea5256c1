import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { decodeProtocolVersion, encodeProtocolVersion } from './version.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('ProtocolVersion (RFC 6143 §7.1.1)', () => {
  it('encodes the three defined versions byte-exactly', () => {
    expect(Buffer.from(encodeProtocolVersion('3.8')).toString('hex')).toBe('524642203030332e3030380a');
    expect(new TextDecoder().decode(encodeProtocolVersion('3.3'))).toBe('RFB 003.003\n');
    expect(new TextDecoder().decode(encodeProtocolVersion('3.7'))).toBe('RFB 003.007\n');
  });

  it.each([
    ['RFB 003.003\n', '3.3'],
    ['RFB 003.005\n', '3.3'],
    ['RFB 003.007\n', '3.7'],
    ['RFB 003.008\n', '3.8'],
    ['RFB 003.889\n', '3.8'],
    ['RFB 004.001\n', '3.8'],
    ['RFB 005.000\n', '3.8'],
  ])('maps %j to %s', (text, effective) => {
    const result = decodeProtocolVersion(ascii(text));
    expect(result).toMatchObject({ kind: 'value', length: 12, value: { effective } });
  });

  it('asks for more bytes on every strict prefix of a valid version', () => {
    const full = ascii('RFB 003.008\n');
    for (let length = 0; length < 12; length++) expect(decodeProtocolVersion(full.subarray(0, length))).toEqual({ kind: 'needMore', needed: 12 });
  });

  it('rejects garbage as soon as the prefix is wrong', () => {
    expect(() => decodeProtocolVersion(ascii('SSH-'))).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    expect(() => decodeProtocolVersion(ascii('H'))).toThrow(LightsoutError);
  });

  it.each(['RFB 003.00x\n', 'RFB 3.8     ', 'RFB 003.008\r', 'RFB 003,008\n'])('rejects malformed %j', (text) => {
    expect(() => decodeProtocolVersion(ascii(text))).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
  });

  it.each(['RFB 003.002\n', 'RFB 002.009\n', 'RFB 000.000\n'])('refuses too old %j as unsupported', (text) => {
    expect(() => decodeProtocolVersion(ascii(text))).toThrow(expect.objectContaining({ code: 'BMC_UNSUPPORTED' }));
  });
});
