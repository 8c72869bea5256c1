import { LightsoutError } from '@lightsout/shared';

/**
 * Result of a streaming RFB decoder: either a value and how many bytes it
 * took, or "not enough bytes yet" (call again when more arrive). Malformed
 * input never returns: it throws a LightsoutError (BMC_PROTOCOL_ERROR).
 */
export type Decoded<T> = { kind: 'value'; value: T; length: number } | { kind: 'needMore'; needed: number };

export function decoded<T>(value: T, length: number): Decoded<T> {
  return { kind: 'value', value, length };
}

/** `needed` is the total byte count known to be required from the start of the message. */
export function needMore<T>(needed: number): Decoded<T> {
  return { kind: 'needMore', needed };
}

/** Longest failure reason we accept (RFC 6143 §7.1.2/§7.1.3 reason-string). Real servers send < 100 bytes. */
export const MAX_REASON_LENGTH = 4096;
/** Longest desktop name we accept in ServerInit (§7.3.2). */
export const MAX_DESKTOP_NAME_LENGTH = 4096;
/**
 * Widest and tallest screen we hold a framebuffer for (ServerInit, §7.3.2, has u16 sizes: 65535x65535 would
 * be 16 GiB at 4 bytes a pixel). BMC consoles are at most 1920x1200 today; 8192x8192 (256 MiB) leaves room.
 */
export const MAX_FRAMEBUFFER_DIMENSION = 8192;

/**
 * Which peer sent the bytes being decoded. The same codec serves the agent
 * (peer: a BMC, so a bad message is BMC_PROTOCOL_ERROR with a hint about the
 * endpoint) and a server such as bmcsim (peer: a VNC client, so a bad message
 * is MALFORMED_MESSAGE).
 */
export type RfbPeer = 'bmc' | 'client';

/** The typed error for bytes `peer` may not send. */
export function peerError(peer: RfbPeer, message: string, details?: Record<string, unknown>): LightsoutError {
  if (peer === 'bmc') return protocolError(message, details);
  return new LightsoutError('MALFORMED_MESSAGE', `RFB client message: ${message}`, details === undefined ? {} : { details });
}

export function protocolError(message: string, details?: Record<string, unknown>): LightsoutError {
  return new LightsoutError('BMC_PROTOCOL_ERROR', `RFB: ${message}`, {
    hint: 'The BMC sent an RFB handshake the agent cannot parse; check that the endpoint really is a VNC server.',
    ...(details === undefined ? {} : { details }),
  });
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false);
}

export function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, false);
  return bytes;
}

const latin1 = new TextDecoder('latin1');

/**
 * Reason strings and desktop names are "text" in RFC 6143 without an
 * agreed encoding; servers use Latin-1 or UTF-8. Decode as UTF-8 when valid,
 * else Latin-1, so a reason is always shown.
 */
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/**
 * | length (u32) | text (length) |   (RFC 6143 §7.1.2 / §7.1.3 reason-string)
 * `what` names the field in the error message.
 */
export function decodeLengthPrefixedText(bytes: Uint8Array, offset: number, cap: number, what: string): Decoded<string> {
  if (bytes.length < offset + 4) return needMore(offset + 4);
  const length = readU32(bytes, offset);
  if (length > cap) throw protocolError(`${what} length ${length} exceeds the limit of ${cap} bytes`, { length, cap });
  if (bytes.length < offset + 4 + length) return needMore(offset + 4 + length);
  return decoded(decodeText(bytes.subarray(offset + 4, offset + 4 + length)), offset + 4 + length);
}

export function encodeLengthPrefixedText(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const bytes = new Uint8Array(4 + body.length);
  bytes.set(u32(body.length), 0);
  bytes.set(body, 4);
  return bytes;
}
