import { LightsoutError } from '@lightsout/shared';

/**
 * Pure RFB codecs for the server side (RFC 6143). Parsers return
 * `{ kind: 'need-more' }` when the buffer ends mid-message and throw
 * LightsoutError('MALFORMED_MESSAGE') for bytes no client may send.
 */

export type RfbVersion = '3.3' | '3.7' | '3.8';

export const SECURITY_NONE = 1;
export const SECURITY_VNC_AUTH = 2;
export const ENCODING_RAW = 0;

const MAX_ENCODINGS = 1024;
const MAX_CUT_TEXT = 1 << 20;

// RFC 6143 §7.1.1 ProtocolVersion: 12 ASCII bytes "RFB xxx.yyy\n".
export function encodeProtocolVersion(): Uint8Array {
  return new TextEncoder().encode('RFB 003.008\n');
}

/**
 * The version both ends will speak. Clients that announce something odd
 * (Apple's 3.889, 4.x/5.x viewers) are mapped as noVNC and RealVNC do:
 * below 3.7 → 3.3, 3.7 → 3.7, anything newer → 3.8.
 */
export function parseProtocolVersion(bytes: Uint8Array): { kind: 'need-more' } | { kind: 'version'; version: RfbVersion } {
  if (bytes.length < 12) return { kind: 'need-more' };
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, 12));
  const match = /^RFB (\d{3})\.(\d{3})\n$/.exec(text);
  if (!match) throw new LightsoutError('MALFORMED_MESSAGE', 'RFB ProtocolVersion is not "RFB xxx.yyy\\n"');
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major < 3) throw new LightsoutError('PROTOCOL_VERSION', `RFB ${major}.${minor} is older than 3.3`);
  if (major === 3 && minor < 7) return { kind: 'version', version: '3.3' };
  if (major === 3 && minor === 7) return { kind: 'version', version: '3.7' };
  return { kind: 'version', version: '3.8' };
}

// RFC 6143 §7.4 PixelFormat (16 bytes):
// | bpp (1) | depth (1) | big-endian (1) | true-colour (1) | red-max (2) | green-max (2) | blue-max (2)
// | red-shift (1) | green-shift (1) | blue-shift (1) | padding (3) |
export interface PixelFormat {
  bitsPerPixel: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** The server's native format: 32 bpp, depth 24, little-endian 0x00RRGGBB. */
export const NATIVE_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};

export function encodePixelFormat(format: PixelFormat): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, format.bitsPerPixel);
  view.setUint8(1, format.depth);
  view.setUint8(2, format.bigEndian ? 1 : 0);
  view.setUint8(3, format.trueColour ? 1 : 0);
  view.setUint16(4, format.redMax);
  view.setUint16(6, format.greenMax);
  view.setUint16(8, format.blueMax);
  view.setUint8(10, format.redShift);
  view.setUint8(11, format.greenShift);
  view.setUint8(12, format.blueShift);
  return bytes;
}

export function decodePixelFormat(bytes: Uint8Array): PixelFormat {
  // RFC 6143 §7.4: 16 bytes. Checked against the view, not its buffer, which may hold more.
  if (bytes.length < 16) throw new LightsoutError('MALFORMED_MESSAGE', `RFB pixel format needs 16 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const bitsPerPixel = view.getUint8(0);
  if (bitsPerPixel !== 8 && bitsPerPixel !== 16 && bitsPerPixel !== 32) {
    throw new LightsoutError('MALFORMED_MESSAGE', `RFB bits-per-pixel ${bitsPerPixel} is not 8, 16 or 32`);
  }
  return {
    bitsPerPixel,
    depth: view.getUint8(1),
    bigEndian: view.getUint8(2) !== 0,
    trueColour: view.getUint8(3) !== 0,
    redMax: view.getUint16(4),
    greenMax: view.getUint16(6),
    blueMax: view.getUint16(8),
    redShift: view.getUint8(10),
    greenShift: view.getUint8(11),
    blueShift: view.getUint8(12),
  };
}

// RFC 6143 §7.3.2 ServerInit:
// | width (2) | height (2) | pixel format (16) | name length (4) | name |
export function encodeServerInit(width: number, height: number, format: PixelFormat, name: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const bytes = new Uint8Array(24 + nameBytes.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, width);
  view.setUint16(2, height);
  bytes.set(encodePixelFormat(format), 4);
  view.setUint32(20, nameBytes.length);
  bytes.set(nameBytes, 24);
  return bytes;
}

// RFC 6143 §7.1.3 SecurityResult: | status (4) | [3.8 failure: reason length (4) | reason] |
export function encodeSecurityResult(ok: boolean, reason?: string): Uint8Array {
  const reasonBytes = reason === undefined ? new Uint8Array(0) : new TextEncoder().encode(reason);
  const bytes = new Uint8Array(4 + (reason === undefined ? 0 : 4 + reasonBytes.length));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, ok ? 0 : 1);
  if (reason !== undefined) {
    view.setUint32(4, reasonBytes.length);
    bytes.set(reasonBytes, 8);
  }
  return bytes;
}

// RFC 6143 §7.6.1 FramebufferUpdate: | type 0 (1) | padding (1) | rect count (2) |
// then per rectangle | x (2) | y (2) | width (2) | height (2) | encoding (4, signed) | pixels |
export function encodeFramebufferUpdateHeader(rectangleCount: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint16(2, rectangleCount);
  return bytes;
}

export function encodeRectangleHeader(x: number, y: number, width: number, height: number, encoding: number): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, x);
  view.setUint16(2, y);
  view.setUint16(4, width);
  view.setUint16(6, height);
  view.setInt32(8, encoding);
  return bytes;
}

// RFC 6143 §7.5 client-to-server messages.
export type ClientMessage =
  | { kind: 'set-pixel-format'; format: PixelFormat }
  | { kind: 'set-encodings'; encodings: number[] }
  | { kind: 'update-request'; incremental: boolean; x: number; y: number; width: number; height: number }
  | { kind: 'key'; down: boolean; keysym: number }
  | { kind: 'pointer'; buttons: number; x: number; y: number }
  | { kind: 'cut-text'; text: Uint8Array };

export type ClientMessageResult = { kind: 'need-more' } | { kind: 'message'; message: ClientMessage; length: number };

export function parseClientMessage(bytes: Uint8Array): ClientMessageResult {
  if (bytes.length < 1) return { kind: 'need-more' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (length: number) => bytes.length < length;
  switch (bytes[0]) {
    case 0: // | 0 | padding (3) | pixel format (16) |
      if (need(20)) return { kind: 'need-more' };
      return { kind: 'message', message: { kind: 'set-pixel-format', format: decodePixelFormat(bytes.subarray(4, 20)) }, length: 20 };
    case 2: {
      // | 2 | padding (1) | count (2) | encodings (4 each, signed) |
      if (need(4)) return { kind: 'need-more' };
      const count = view.getUint16(2);
      if (count > MAX_ENCODINGS) throw new LightsoutError('MALFORMED_MESSAGE', `RFB SetEncodings lists ${count} encodings (max ${MAX_ENCODINGS})`);
      if (need(4 + count * 4)) return { kind: 'need-more' };
      const encodings: number[] = [];
      for (let index = 0; index < count; index++) encodings.push(view.getInt32(4 + index * 4));
      return { kind: 'message', message: { kind: 'set-encodings', encodings }, length: 4 + count * 4 };
    }
    case 3: // | 3 | incremental (1) | x (2) | y (2) | width (2) | height (2) |
      if (need(10)) return { kind: 'need-more' };
      return {
        kind: 'message',
        message: { kind: 'update-request', incremental: bytes[1] !== 0, x: view.getUint16(2), y: view.getUint16(4), width: view.getUint16(6), height: view.getUint16(8) },
        length: 10,
      };
    case 4: // | 4 | down (1) | padding (2) | keysym (4) |
      if (need(8)) return { kind: 'need-more' };
      return { kind: 'message', message: { kind: 'key', down: bytes[1] !== 0, keysym: view.getUint32(4) }, length: 8 };
    case 5: // | 5 | button mask (1) | x (2) | y (2) |
      if (need(6)) return { kind: 'need-more' };
      return { kind: 'message', message: { kind: 'pointer', buttons: bytes[1]!, x: view.getUint16(2), y: view.getUint16(4) }, length: 6 };
    case 6: {
      // | 6 | padding (3) | length (4) | latin-1 text |
      if (need(8)) return { kind: 'need-more' };
      const length = view.getUint32(4);
      if (length > MAX_CUT_TEXT) throw new LightsoutError('FRAME_TOO_LARGE', `RFB ClientCutText of ${length} bytes (max ${MAX_CUT_TEXT})`);
      if (need(8 + length)) return { kind: 'need-more' };
      return { kind: 'message', message: { kind: 'cut-text', text: bytes.slice(8, 8 + length) }, length: 8 + length };
    }
    default:
      throw new LightsoutError('MALFORMED_MESSAGE', `unknown RFB client message type ${bytes[0]}`);
  }
}
