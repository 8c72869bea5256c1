import fc from 'fast-check';
import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { decodeClientMessage, encodeClientMessage, type ClientMessage } from './client-messages.js';
import { decodeClientProtocolVersion } from './client-handshake.js';
import { desEcbEncrypt } from './des.js';
import { decodePixelFormat, encodePixelFormat, type PixelFormat } from './init-messages.js';
import { vncAuthKey, vncAuthMatches, vncAuthResponse } from './security/vnc-auth.js';

const ascii = (text: string) => new TextEncoder().encode(text);
const format: PixelFormat = { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };

/** A decoder's outcome on hostile bytes: a value, need-more, or a LightsoutError — never another throw. */
const outcome = (bytes: Uint8Array) => {
  try {
    return decodeClientMessage(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(LightsoutError);
    return 'error' as const;
  }
};

describe('RFB client messages, as a server reads them (RFC 6143 §7.5)', () => {
  it('maps client versions like noVNC does and refuses what is not RFB', () => {
    expect(decodeClientProtocolVersion(ascii('RFB 003.003\n'))).toBe('3.3');
    expect(decodeClientProtocolVersion(ascii('RFB 003.007\n'))).toBe('3.7');
    expect(decodeClientProtocolVersion(ascii('RFB 003.889\n'))).toBe('3.8');
    expect(decodeClientProtocolVersion(ascii('RFB 003.0'))).toBeUndefined();
    expect(() => decodeClientProtocolVersion(ascii('HTTP/1.1 200'))).toThrow(LightsoutError);
    // Below the first published version there is no 3.3 framing to assume (§7.1.1).
    expect(() => decodeClientProtocolVersion(ascii('RFB 003.002\n'))).toThrow(expect.objectContaining({ code: 'PROTOCOL_VERSION' }));
  });

  it('separates need-more from malformed and caps lengths', () => {
    expect(decodeClientMessage(Uint8Array.of(3, 1, 0))).toEqual({ kind: 'needMore', needed: 10 });
    expect(decodeClientMessage(Uint8Array.of(4, 1, 0, 0, 0, 0, 0xff, 0x0d))).toEqual({ kind: 'value', value: { kind: 'key', down: true, keysym: 0xff0d }, length: 8 });
    expect(() => decodeClientMessage(Uint8Array.of(9))).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE', message: 'unknown RFB client message type 9' }));
    expect(() => decodeClientMessage(Uint8Array.of(2, 0, 0xff, 0xff))).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE', message: expect.stringMatching(/max 1024/) }));
    expect(() => decodeClientMessage(Uint8Array.of(6, 0, 0, 0, 0x7f, 0, 0, 0))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE', message: expect.stringMatching(/ClientCutText/) }));
  });

  it('a SetPixelFormat with a bits-per-pixel the RFC does not allow is the client\'s MALFORMED_MESSAGE', () => {
    const bytes = encodeClientMessage({ kind: 'set-pixel-format', format });
    bytes[4] = 24;
    expect(() => decodeClientMessage(bytes)).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
  });

  it('decodePixelFormat refuses fewer than 16 bytes with a typed error and never reads past its view', () => {
    const bytes = encodePixelFormat(format);
    expect(decodePixelFormat(bytes, 0, 'client')).toEqual(format);
    for (let length = 0; length < 16; length++) {
      expect(() => decodePixelFormat(bytes.subarray(0, length), 0, 'client'), `${length} bytes`).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
    }
    const larger = new Uint8Array(64);
    larger.set(bytes, 8);
    expect(() => decodePixelFormat(larger.subarray(8, 16), 0, 'client')).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
  });

  it('encrypts like VNC d3des (golden vector from TigerVNC vncpasswd) and checks a response as the server', () => {
    // `printf 'secret12\n' | vncpasswd -f` → 24b5ae4ce15503c6: the password
    // DES-encrypted under d3des's fixed key {23,82,107,6,35,78,88,7}.
    const fixedKey = Uint8Array.of(23, 82, 107, 6, 35, 78, 88, 7);
    expect(Buffer.from(desEcbEncrypt(vncAuthKey(fixedKey), ascii('secret12'))).toString('hex')).toBe('24b5ae4ce15503c6');
    const challenge = Uint8Array.from({ length: 16 }, (_, index) => index);
    // Only the first 8 password bytes count (RFC 6143 §7.2.2).
    expect(vncAuthResponse('password', challenge)).toEqual(vncAuthResponse('password12345', challenge));
    expect(vncAuthMatches('password', challenge, vncAuthResponse('password', challenge))).toBe(true);
    expect(vncAuthMatches('password', challenge, vncAuthResponse('passwore', challenge))).toBe(false);
    expect(vncAuthMatches('password', challenge, new Uint8Array(15))).toBe(false);
  });

  const message: fc.Arbitrary<ClientMessage> = fc.oneof(
    fc.record({ kind: fc.constant('set-encodings' as const), encodings: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 40 }) }),
    fc.record({ kind: fc.constant('update-request' as const), incremental: fc.boolean(), x: fc.nat(0xffff), y: fc.nat(0xffff), width: fc.nat(0xffff), height: fc.nat(0xffff) }),
    fc.record({ kind: fc.constant('key' as const), down: fc.boolean(), keysym: fc.nat(0xffffffff) }),
    fc.record({ kind: fc.constant('pointer' as const), buttons: fc.nat(255), x: fc.nat(0xffff), y: fc.nat(0xffff) }),
    fc.record({ kind: fc.constant('cut-text' as const), text: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant('set-pixel-format' as const), format: fc.constant(format) }),
  );

  it('round-trips every client message, and every strict prefix needs more', () => {
    fc.assert(
      fc.property(message, (value) => {
        const bytes = encodeClientMessage(value);
        expect(decodeClientMessage(bytes)).toEqual({ kind: 'value', value, length: bytes.length });
        for (let length = 0; length < bytes.length; length++) expect(decodeClientMessage(bytes.subarray(0, length)).kind).toBe('needMore');
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but LightsoutError on hostile bytes, and prefixes of a message need more bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 2, 3, 4, 5, 6, 7, 255), fc.uint8Array({ maxLength: 64 }), (type, rest) => {
        const bytes = Uint8Array.of(type, ...rest);
        const result = outcome(bytes);
        if (result !== 'error' && result.kind === 'value') {
          for (let length = 0; length < result.length; length++) {
            const prefix = outcome(bytes.subarray(0, length));
            expect(prefix === 'error' ? 'error' : prefix.kind).toBe('needMore');
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every non-RFB greeting of 12 bytes with a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (bytes) => {
        try {
          const version = decodeClientProtocolVersion(bytes);
          expect(new TextDecoder('latin1').decode(bytes)).toMatch(/^RFB \d{3}\.\d{3}\n$/);
          expect(version).toBeDefined();
        } catch (error) {
          expect(error).toBeInstanceOf(LightsoutError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
