import { describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { decodePixelFormat, encodePixelFormat, parseClientMessage, parseProtocolVersion, type PixelFormat } from './messages.js';
import { vncAuthResponse, vncDesEncrypt } from './vnc-auth.js';

describe('RFB codecs', () => {
  it('maps client versions like noVNC does', () => {
    const version = (text: string) => parseProtocolVersion(new TextEncoder().encode(text));
    expect(version('RFB 003.003\n')).toEqual({ kind: 'version', version: '3.3' });
    expect(version('RFB 003.007\n')).toEqual({ kind: 'version', version: '3.7' });
    expect(version('RFB 003.889\n')).toEqual({ kind: 'version', version: '3.8' });
    expect(version('RFB 003.0')).toEqual({ kind: 'need-more' });
    expect(() => version('HTTP/1.1 200')).toThrow(LightsoutError);
  });

  it('separates need-more from malformed and caps lengths', () => {
    expect(parseClientMessage(Uint8Array.of(3, 1, 0))).toEqual({ kind: 'need-more' });
    expect(parseClientMessage(Uint8Array.of(4, 1, 0, 0, 0, 0, 0xff, 0x0d))).toEqual({ kind: 'message', message: { kind: 'key', down: true, keysym: 0xff0d }, length: 8 });
    expect(() => parseClientMessage(Uint8Array.of(9))).toThrow(/unknown RFB client message/);
    expect(() => parseClientMessage(Uint8Array.of(2, 0, 0xff, 0xff))).toThrow(/max 1024/);
    expect(() => parseClientMessage(Uint8Array.of(6, 0, 0, 0, 0x7f, 0, 0, 0))).toThrow(/ClientCutText/);
  });

  it('encrypts like VNC d3des (golden vector from TigerVNC vncpasswd)', () => {
    // `printf 'secret12\n' | vncpasswd -f` → 24b5ae4ce15503c6: the password
    // DES-encrypted under d3des's fixed key {23,82,107,6,35,78,88,7}.
    const fixedKey = Uint8Array.of(23, 82, 107, 6, 35, 78, 88, 7);
    expect(Buffer.from(vncDesEncrypt(fixedKey, new TextEncoder().encode('secret12'))).toString('hex')).toBe('24b5ae4ce15503c6');
    const challenge = Uint8Array.from({ length: 16 }, (_, index) => index);
    // Only the first 8 password bytes count (RFC 6143 §7.2.2).
    expect(vncAuthResponse('password', challenge)).toEqual(vncAuthResponse('password12345', challenge));
  });

  it('decodePixelFormat refuses fewer than 16 bytes with a typed error and never reads past its view', () => {
    const format: PixelFormat = { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };
    const bytes = encodePixelFormat(format);
    expect(decodePixelFormat(bytes)).toEqual(format);
    for (let length = 0; length < 16; length++) {
      expect(() => decodePixelFormat(bytes.subarray(0, length)), `${length} bytes`).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
    }
    const larger = new Uint8Array(64);
    larger.set(bytes, 8);
    expect(() => decodePixelFormat(larger.subarray(8, 16))).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
  });
});
