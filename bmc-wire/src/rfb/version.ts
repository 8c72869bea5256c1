import { LightsoutError } from '@lightsout/shared';
import { decoded, type Decoded, needMore, protocolError } from './wire.js';

/** The three protocol versions RFC 6143 defines behaviour for. */
export type RfbVersion = '3.3' | '3.7' | '3.8';

/** What a peer announced, and which defined version it maps to. */
export interface ProtocolVersion {
  major: number;
  minor: number;
  /** How we must speak to this peer (RFC 6143 §7.1.1, noVNC's mapping). */
  effective: RfbVersion;
}

// RFC 6143 §7.1.1 ProtocolVersion, 12 bytes, ASCII:
// | "RFB " (4) | major (3 digits) | "." (1) | minor (3 digits) | "\n" (1) |
export const PROTOCOL_VERSION_LENGTH = 12;

const VERSION_PATTERN = /^RFB (\d{3})\.(\d{3})\n$/;

/**
 * Maps an announced version to the one we speak. 3.5 was never published
 * (some servers report it) and 3.4/3.6 are vendor variants: all behave as 3.3.
 * Apple's 3.889 and RealVNC's 4.x/5.x speak 3.8 framing.
 */
export function effectiveVersion(major: number, minor: number): RfbVersion | undefined {
  if (major === 3) {
    if (minor >= 8) return '3.8';
    if (minor === 7) return '3.7';
    if (minor >= 3) return '3.3';
    return undefined;
  }
  if (major > 3 && major < 100) return '3.8';
  return undefined;
}

export function decodeProtocolVersion(bytes: Uint8Array): Decoded<ProtocolVersion> {
  // Reject garbage as soon as the fixed prefix is wrong, instead of waiting
  // for 12 bytes that may never come (e.g. an HTTP or SSH server).
  const prefix = 'RFB ';
  for (let index = 0; index < Math.min(bytes.length, prefix.length); index++) {
    if (bytes[index] !== prefix.charCodeAt(index)) throw protocolError('the server did not send an RFB ProtocolVersion', { received: printable(bytes) });
  }
  if (bytes.length < PROTOCOL_VERSION_LENGTH) return needMore(PROTOCOL_VERSION_LENGTH);
  const text = String.fromCharCode(...bytes.subarray(0, PROTOCOL_VERSION_LENGTH));
  const match = VERSION_PATTERN.exec(text);
  if (!match) throw protocolError('malformed ProtocolVersion', { received: printable(bytes) });
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const effective = effectiveVersion(major, minor);
  if (effective === undefined) {
    throw new LightsoutError('BMC_UNSUPPORTED', `RFB: protocol version ${major}.${minor} is not supported (need 3.3 or later)`, { details: { major, minor } });
  }
  return decoded({ major, minor, effective }, PROTOCOL_VERSION_LENGTH);
}

export function encodeProtocolVersion(version: RfbVersion): Uint8Array {
  const minor = version.split('.')[1]!.padStart(3, '0');
  return new TextEncoder().encode(`RFB 003.${minor}\n`);
}

function printable(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, PROTOCOL_VERSION_LENGTH), (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`)).join('');
}
