import { LightsoutError } from '@lightsout/shared';
import { decodePixelFormat, encodePixelFormat, PIXEL_FORMAT_LENGTH, type PixelFormat } from './init-messages.js';
import { decoded, type Decoded, needMore, peerError } from './wire.js';

/**
 * RFC 6143 §7.5 client-to-server messages, as a server decodes them after
 * ClientInit. The agent splices these bytes without looking; bmcsim serves them.
 */
export type ClientMessage =
  | { kind: 'set-pixel-format'; format: PixelFormat }
  | { kind: 'set-encodings'; encodings: number[] }
  | { kind: 'update-request'; incremental: boolean; x: number; y: number; width: number; height: number }
  | { kind: 'key'; down: boolean; keysym: number }
  | { kind: 'pointer'; buttons: number; x: number; y: number }
  | { kind: 'cut-text'; text: Uint8Array };

export const CLIENT_MESSAGE_TYPE = { setPixelFormat: 0, setEncodings: 2, updateRequest: 3, key: 4, pointer: 5, cutText: 6 } as const;

/** More encodings than any viewer sends (noVNC: ~20, TigerVNC: ~30); a cap on what one message may make us allocate. */
export const MAX_ENCODINGS = 1024;
/** Longest ClientCutText we accept: a clipboard, not a file transfer. */
export const MAX_CUT_TEXT = 1 << 20;

export function decodeClientMessage(bytes: Uint8Array): Decoded<ClientMessage> {
  if (bytes.length < 1) return needMore(1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[0]) {
    // §7.5.1 SetPixelFormat: | 0 | padding (3) | pixel-format (16) |
    case CLIENT_MESSAGE_TYPE.setPixelFormat:
      if (bytes.length < 4 + PIXEL_FORMAT_LENGTH) return needMore(4 + PIXEL_FORMAT_LENGTH);
      return decoded({ kind: 'set-pixel-format', format: decodePixelFormat(bytes, 4, 'client') }, 4 + PIXEL_FORMAT_LENGTH);
    // §7.5.2 SetEncodings: | 2 | padding (1) | number-of-encodings (u16) | encoding-type (s32 × number) |
    case CLIENT_MESSAGE_TYPE.setEncodings: {
      if (bytes.length < 4) return needMore(4);
      const count = view.getUint16(2);
      if (count > MAX_ENCODINGS) throw peerError('client', `SetEncodings lists ${count} encodings (max ${MAX_ENCODINGS})`, { count });
      const total = 4 + count * 4;
      if (bytes.length < total) return needMore(total);
      const encodings = Array.from({ length: count }, (_, index) => view.getInt32(4 + index * 4));
      return decoded({ kind: 'set-encodings', encodings }, total);
    }
    // §7.5.3 FramebufferUpdateRequest: | 3 | incremental (1) | x (u16) | y (u16) | width (u16) | height (u16) |
    case CLIENT_MESSAGE_TYPE.updateRequest:
      if (bytes.length < 10) return needMore(10);
      return decoded({ kind: 'update-request', incremental: bytes[1] !== 0, x: view.getUint16(2), y: view.getUint16(4), width: view.getUint16(6), height: view.getUint16(8) }, 10);
    // §7.5.4 KeyEvent: | 4 | down-flag (1) | padding (2) | key (u32) |
    case CLIENT_MESSAGE_TYPE.key:
      if (bytes.length < 8) return needMore(8);
      return decoded({ kind: 'key', down: bytes[1] !== 0, keysym: view.getUint32(4) }, 8);
    // §7.5.5 PointerEvent: | 5 | button-mask (1) | x (u16) | y (u16) |
    case CLIENT_MESSAGE_TYPE.pointer:
      if (bytes.length < 6) return needMore(6);
      return decoded({ kind: 'pointer', buttons: bytes[1]!, x: view.getUint16(2), y: view.getUint16(4) }, 6);
    // §7.5.6 ClientCutText: | 6 | padding (3) | length (u32) | text (Latin-1, length) |
    case CLIENT_MESSAGE_TYPE.cutText: {
      if (bytes.length < 8) return needMore(8);
      const length = view.getUint32(4);
      if (length > MAX_CUT_TEXT) throw new LightsoutError('FRAME_TOO_LARGE', `RFB ClientCutText of ${length} bytes (max ${MAX_CUT_TEXT})`, { details: { length } });
      if (bytes.length < 8 + length) return needMore(8 + length);
      return decoded({ kind: 'cut-text', text: bytes.slice(8, 8 + length) }, 8 + length);
    }
    default:
      // The type byte is the whole diagnosis: name it plainly.
      throw new LightsoutError('MALFORMED_MESSAGE', `unknown RFB client message type ${bytes[0]}`, { details: { type: bytes[0] } });
  }
}

export function encodeClientMessage(message: ClientMessage): Uint8Array {
  switch (message.kind) {
    case 'set-pixel-format':
      return Uint8Array.from([CLIENT_MESSAGE_TYPE.setPixelFormat, 0, 0, 0, ...encodePixelFormat(message.format)]);
    case 'set-encodings': {
      const bytes = new Uint8Array(4 + message.encodings.length * 4);
      const view = new DataView(bytes.buffer);
      bytes[0] = CLIENT_MESSAGE_TYPE.setEncodings;
      view.setUint16(2, message.encodings.length);
      message.encodings.forEach((encoding, index) => view.setInt32(4 + index * 4, encoding));
      return bytes;
    }
    case 'update-request':
      return fixed(10, CLIENT_MESSAGE_TYPE.updateRequest, message.incremental ? 1 : 0, (view) => {
        view.setUint16(2, message.x);
        view.setUint16(4, message.y);
        view.setUint16(6, message.width);
        view.setUint16(8, message.height);
      });
    case 'key':
      return fixed(8, CLIENT_MESSAGE_TYPE.key, message.down ? 1 : 0, (view) => view.setUint32(4, message.keysym));
    case 'pointer':
      return fixed(6, CLIENT_MESSAGE_TYPE.pointer, message.buttons, (view) => {
        view.setUint16(2, message.x);
        view.setUint16(4, message.y);
      });
    case 'cut-text':
      return fixed(8 + message.text.length, CLIENT_MESSAGE_TYPE.cutText, 0, (view, bytes) => {
        view.setUint32(4, message.text.length);
        bytes.set(message.text, 8);
      });
  }
}

function fixed(length: number, type: number, second: number, fill: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes[0] = type;
  bytes[1] = second;
  fill(new DataView(bytes.buffer), bytes);
  return bytes;
}
