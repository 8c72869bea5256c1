import { wireError } from './errors.js';

/** Largest datagram we accept or build: IPMI LAN messages are far below this. */
export const MAX_DATAGRAM = 1024;

export function requireLength(bytes: Uint8Array, needed: number, what: string): void {
  if (bytes.length < needed) throw wireError('TRUNCATED', `${what}: ${bytes.length} bytes, need ${needed}`, { have: bytes.length, need: needed });
}

export function readU16(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

export function writeU16(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value & 0xff;
  target[offset + 1] = (value >>> 8) & 0xff;
}

export function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value & 0xff;
  target[offset + 1] = (value >>> 8) & 0xff;
  target[offset + 2] = (value >>> 16) & 0xff;
  target[offset + 3] = (value >>> 24) & 0xff;
}

export function u32le(value: number): Uint8Array {
  const out = new Uint8Array(4);
  writeU32(out, 0, value);
  return out;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export { bytesEqual } from '../constant-time.js';

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw wireError('BAD_FIELD', 'not a hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let index = 0; index < out.length; index++) out[index] = parseInt(clean.slice(index * 2, index * 2 + 2), 16);
  return out;
}

/** ASCII/Latin-1 text, NUL-padded or truncated to `length` (usernames, passwords). */
export function paddedAscii(text: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const encoded = new TextEncoder().encode(text);
  out.set(encoded.subarray(0, length));
  return out;
}

export function asciiOf(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return new TextDecoder('latin1').decode(bytes.subarray(0, end));
}
