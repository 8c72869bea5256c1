import { describe, expect, it } from 'vitest';
import { decodeClientInit, decodePixelFormat, decodeServerInit, encodeClientInit, encodePixelFormat, encodeServerInit, PIXEL_FORMAT_LENGTH, type ServerInit } from './init-messages.js';
import { MAX_DESKTOP_NAME_LENGTH } from './wire.js';

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

// Shaped like x11vnc's ServerInit for a 1024x768x24 Xvfb (the live one is decoded in proxy.test.ts).
const x11vncInit: ServerInit = {
  width: 1024,
  height: 768,
  pixelFormat: { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 },
  name: 'vm:51',
};

describe('ClientInit / ServerInit (RFC 6143 §7.3)', () => {
  it('ClientInit is one shared-flag byte', () => {
    expect(toHex(encodeClientInit({ shared: true }))).toBe('01');
    expect(decodeClientInit(Uint8Array.of(0))).toEqual({ kind: 'value', value: { shared: false }, length: 1 });
    expect(decodeClientInit(new Uint8Array(0)).kind).toBe('needMore');
  });

  it('ServerInit layout is byte-exact', () => {
    expect(toHex(encodeServerInit(x11vncInit))).toBe('04000300' + '20180001' + '00ff00ff00ff' + '100800' + '000000' + '00000005' + toHex(new TextEncoder().encode('vm:51')));
  });

  it('round-trips and needs more on every truncation', () => {
    const bytes = encodeServerInit(x11vncInit);
    expect(decodeServerInit(bytes)).toEqual({ kind: 'value', value: x11vncInit, length: bytes.length });
    for (let length = 0; length < bytes.length; length++) expect(decodeServerInit(bytes.subarray(0, length)).kind).toBe('needMore');
  });

  it('caps the name length and checks bits per pixel', () => {
    const bytes = encodeServerInit(x11vncInit);
    new DataView(bytes.buffer).setUint32(20, MAX_DESKTOP_NAME_LENGTH + 1);
    expect(() => decodeServerInit(bytes)).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    const odd = encodeServerInit({ ...x11vncInit, pixelFormat: { ...x11vncInit.pixelFormat, bitsPerPixel: 24 } });
    expect(() => decodeServerInit(odd)).toThrow(/24 bits per pixel/);
  });

  it('decodePixelFormat refuses fewer than 16 bytes with a typed error and never reads past its view', () => {
    const format = encodePixelFormat(x11vncInit.pixelFormat);
    expect(decodePixelFormat(format)).toEqual(x11vncInit.pixelFormat);
    for (let length = 0; length < PIXEL_FORMAT_LENGTH; length++) {
      expect(() => decodePixelFormat(format.subarray(0, length)), `${length} bytes`).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    }
    // A short view into a larger buffer: the bytes after the view are not the caller's to give.
    const larger = new Uint8Array(64);
    larger.set(format, 8);
    expect(() => decodePixelFormat(larger.subarray(8, 16))).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    expect(() => decodePixelFormat(larger.subarray(0, 20), 8)).toThrow(expect.objectContaining({ code: 'BMC_PROTOCOL_ERROR' }));
    expect(decodePixelFormat(larger.subarray(0, 24), 8)).toEqual(x11vncInit.pixelFormat);
  });
});
