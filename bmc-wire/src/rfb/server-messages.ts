import { decoded, type Decoded, needMore } from './wire.js';

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
