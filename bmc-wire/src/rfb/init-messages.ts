import { decoded, type Decoded, decodeText, MAX_DESKTOP_NAME_LENGTH, needMore, peerError, protocolError, readU32, type RfbPeer, u32 } from './wire.js';

// RFC 6143 §7.3.1 ClientInit, client → server:
// | shared-flag (u8) |             non-zero = share the desktop with other clients
export interface ClientInit {
  shared: boolean;
}

export function decodeClientInit(bytes: Uint8Array): Decoded<ClientInit> {
  if (bytes.length < 1) return needMore(1);
  return decoded({ shared: bytes[0] !== 0 }, 1);
}

export function encodeClientInit(init: ClientInit): Uint8Array {
  return Uint8Array.of(init.shared ? 1 : 0);
}

// RFC 6143 §7.4 PIXEL_FORMAT, 16 bytes:
// | bits-per-pixel (u8) | depth (u8) | big-endian-flag (u8) | true-colour-flag (u8) |
// | red-max (u16) | green-max (u16) | blue-max (u16) |
// | red-shift (u8) | green-shift (u8) | blue-shift (u8) | padding (3) |
export interface PixelFormat {
  bitsPerPixel: number;
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

export const PIXEL_FORMAT_LENGTH = 16;

/** `peer` sent the bytes: a BMC in ServerInit, a client in SetPixelFormat. */
export function decodePixelFormat(bytes: Uint8Array, offset = 0, peer: RfbPeer = 'bmc'): PixelFormat {
  // The view must lie inside `bytes`: a DataView over `bytes.buffer` would
  // otherwise read whatever follows a short subarray in the same buffer.
  if (offset < 0 || bytes.length - offset < PIXEL_FORMAT_LENGTH) {
    throw peerError(peer, `pixel format needs ${PIXEL_FORMAT_LENGTH} bytes, got ${Math.max(0, bytes.length - offset)}`, { length: bytes.length, offset });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, PIXEL_FORMAT_LENGTH);
  const format: PixelFormat = {
    bitsPerPixel: view.getUint8(0),
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
  // §7.4: bits-per-pixel must be 8, 16 or 32.
  if (![8, 16, 32].includes(format.bitsPerPixel)) throw peerError(peer, `pixel format with ${format.bitsPerPixel} bits per pixel`, { bitsPerPixel: format.bitsPerPixel });
  return format;
}

export function encodePixelFormat(format: PixelFormat): Uint8Array {
  const bytes = new Uint8Array(PIXEL_FORMAT_LENGTH);
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

// RFC 6143 §7.3.2 ServerInit, server → client:
// | framebuffer-width (u16) | framebuffer-height (u16) | server-pixel-format (16) |
// | name-length (u32) | name-string (name-length) |
export interface ServerInit {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  name: string;
}

const SERVER_INIT_FIXED_LENGTH = 2 + 2 + PIXEL_FORMAT_LENGTH + 4;

export function decodeServerInit(bytes: Uint8Array): Decoded<ServerInit> {
  if (bytes.length < SERVER_INIT_FIXED_LENGTH) return needMore(SERVER_INIT_FIXED_LENGTH);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nameLength = readU32(bytes, 20);
  if (nameLength > MAX_DESKTOP_NAME_LENGTH) throw protocolError(`desktop name length ${nameLength} exceeds the limit of ${MAX_DESKTOP_NAME_LENGTH} bytes`, { nameLength });
  const total = SERVER_INIT_FIXED_LENGTH + nameLength;
  if (bytes.length < total) return needMore(total);
  return decoded(
    {
      width: view.getUint16(0),
      height: view.getUint16(2),
      pixelFormat: decodePixelFormat(bytes, 4),
      name: decodeText(bytes.subarray(SERVER_INIT_FIXED_LENGTH, total)),
    },
    total,
  );
}

export function encodeServerInit(init: ServerInit): Uint8Array {
  const name = new TextEncoder().encode(init.name);
  const bytes = new Uint8Array(SERVER_INIT_FIXED_LENGTH + name.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, init.width);
  view.setUint16(2, init.height);
  bytes.set(encodePixelFormat(init.pixelFormat), 4);
  bytes.set(u32(name.length), 20);
  bytes.set(name, SERVER_INIT_FIXED_LENGTH);
  return bytes;
}
