import { decoded, type Decoded, needMore, protocolError } from './wire.js';

/** §7.7.1 Raw encoding: width × height pixels in the client's pixel format. */
export const ENCODING_RAW = 0;

// RFC 6143 §7.6.1 FramebufferUpdate, server → client:
// | message-type 0 (u8) | padding (1) | number-of-rectangles (u16) |
// then per rectangle (below) | x (u16) | y (u16) | width (u16) | height (u16) | encoding-type (s32) | pixels |
export const FRAMEBUFFER_UPDATE_HEADER_LENGTH = 4;
export const RECTANGLE_HEADER_LENGTH = 12;

export interface RectangleHeader {
  x: number;
  y: number;
  width: number;
  height: number;
  encoding: number;
}

export function encodeFramebufferUpdateHeader(rectangleCount: number): Uint8Array {
  const bytes = new Uint8Array(FRAMEBUFFER_UPDATE_HEADER_LENGTH);
  new DataView(bytes.buffer).setUint16(2, rectangleCount);
  return bytes;
}

/** The rectangle count, when `bytes` starts with a FramebufferUpdate (the caller dispatched on type 0). */
export function decodeFramebufferUpdateHeader(bytes: Uint8Array): Decoded<{ rectangleCount: number }> {
  if (bytes.length < FRAMEBUFFER_UPDATE_HEADER_LENGTH) return needMore(FRAMEBUFFER_UPDATE_HEADER_LENGTH);
  return decoded({ rectangleCount: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(2) }, FRAMEBUFFER_UPDATE_HEADER_LENGTH);
}

export function encodeRectangleHeader(rectangle: RectangleHeader): Uint8Array {
  const bytes = new Uint8Array(RECTANGLE_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, rectangle.x);
  view.setUint16(2, rectangle.y);
  view.setUint16(4, rectangle.width);
  view.setUint16(6, rectangle.height);
  view.setInt32(8, rectangle.encoding);
  return bytes;
}

export function decodeRectangleHeader(bytes: Uint8Array): Decoded<RectangleHeader> {
  if (bytes.length < RECTANGLE_HEADER_LENGTH) return needMore(RECTANGLE_HEADER_LENGTH);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decoded({ x: view.getUint16(0), y: view.getUint16(2), width: view.getUint16(4), height: view.getUint16(6), encoding: view.getInt32(8) }, RECTANGLE_HEADER_LENGTH);
}

/** §7.6 server-to-client message types. */
export const SERVER_MESSAGE_TYPE = { framebufferUpdate: 0, setColourMapEntries: 1, bell: 2, cutText: 3 } as const;

/**
 * The messages other than FramebufferUpdate, whole (a client that does not
 * use a colour map still has to step over one):
 *
 *   SetColourMapEntries §7.6.2  | 1 | pad | first u16 | count u16 | count × (r, g, b u16) |
 *   Bell §7.6.3                 | 2 |
 *   ServerCutText §7.6.4        | 3 | pad ×3 | length u32 | text (Latin-1) |
 */
export type ServerMessage =
  | { kind: 'colour-map'; firstColour: number; count: number }
  | { kind: 'bell' }
  | { kind: 'cut-text'; text: Uint8Array };

/** Longest ServerCutText a client takes: a clipboard, not a file transfer (the same cap as the other way). */
export const MAX_SERVER_CUT_TEXT = 1 << 20;

export function decodeServerMessage(bytes: Uint8Array): Decoded<ServerMessage> {
  if (bytes.length < 1) return needMore(1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[0]) {
    case SERVER_MESSAGE_TYPE.setColourMapEntries: {
      if (bytes.length < 6) return needMore(6);
      const count = view.getUint16(4);
      const total = 6 + count * 6;
      if (bytes.length < total) return needMore(total);
      return decoded({ kind: 'colour-map', firstColour: view.getUint16(2), count }, total);
    }
    case SERVER_MESSAGE_TYPE.bell:
      return decoded({ kind: 'bell' }, 1);
    case SERVER_MESSAGE_TYPE.cutText: {
      if (bytes.length < 8) return needMore(8);
      const length = view.getUint32(4);
      if (length > MAX_SERVER_CUT_TEXT) throw protocolError(`ServerCutText of ${length} bytes (max ${MAX_SERVER_CUT_TEXT})`, { length });
      if (bytes.length < 8 + length) return needMore(8 + length);
      return decoded({ kind: 'cut-text', text: bytes.slice(8, 8 + length) }, 8 + length);
    }
    default:
      throw protocolError(`unknown server message type ${bytes[0]}`, { type: bytes[0] });
  }
}

export function encodeServerMessage(message: ServerMessage & { kind: 'bell' | 'cut-text' }): Uint8Array {
  if (message.kind === 'bell') return Uint8Array.of(SERVER_MESSAGE_TYPE.bell);
  const bytes = new Uint8Array(8 + message.text.length);
  bytes[0] = SERVER_MESSAGE_TYPE.cutText;
  new DataView(bytes.buffer).setUint32(4, message.text.length);
  bytes.set(message.text, 8);
  return bytes;
}
