import { MAX_DATAGRAM, bytesEqual, concatBytes, paddedAscii, readU32, requireLength, u32le, writeU32 } from './bytes.js';
import type { IpmiCrypto } from './crypto.js';
import { wireError } from './errors.js';
import { RMCP_CLASS_IPMI, RMCP_HEADER_LENGTH, rmcpHeader } from './rmcp.js';

// IPMI v1.5 LAN session packet, IPMI v2.0 §22.12 / §13.6 table 13-4:
// | RMCP header (4) | auth type (1) | session sequence (4 LE) | session ID (4 LE) |
// | AuthCode (16, only when auth type ≠ none) | message length (1) | IPMI message | [legacy pad 0x00] |
// Auth types (§22.17): 0 none, 1 MD2, 2 MD5, 4 straight password, 5 OEM.
export const AUTH_TYPE = { none: 0x00, md2: 0x01, md5: 0x02, straight: 0x04, oem: 0x05 } as const;
export type V15AuthType = 'none' | 'md5' | 'straight';

export interface V15Packet {
  authType: number;
  sequence: number;
  sessionId: number;
  /** 16 bytes when authType ≠ none. */
  authCode: Uint8Array | undefined;
  message: Uint8Array;
}

export function encodeV15(packet: V15Packet): Uint8Array {
  if (packet.message.length > 255) throw wireError('TOO_LONG', `v1.5 message of ${packet.message.length} bytes`);
  const hasCode = packet.authType !== AUTH_TYPE.none;
  if (hasCode && packet.authCode?.length !== 16) throw wireError('BAD_FIELD', 'v1.5 AuthCode must be 16 bytes');
  const header = new Uint8Array(RMCP_HEADER_LENGTH + 9);
  header.set(rmcpHeader(RMCP_CLASS_IPMI), 0);
  header[4] = packet.authType;
  writeU32(header, 5, packet.sequence);
  writeU32(header, 9, packet.sessionId);
  return concatBytes(header, hasCode ? packet.authCode! : new Uint8Array(), Uint8Array.of(packet.message.length), packet.message);
}

export function decodeV15(datagram: Uint8Array): V15Packet {
  if (datagram.length > MAX_DATAGRAM) throw wireError('TOO_LONG', `datagram of ${datagram.length} bytes`);
  requireLength(datagram, RMCP_HEADER_LENGTH + 10, 'v1.5 session header');
  if (datagram[0] !== 0x06 || (datagram[3]! & 0x7f) !== RMCP_CLASS_IPMI) throw wireError('BAD_RMCP_HEADER', 'not an RMCP IPMI datagram');
  const authType = datagram[4]! & 0x3f;
  if (authType === 0x06) throw wireError('BAD_AUTH_TYPE', 'RMCP+ packet given to the v1.5 decoder');
  if (authType !== AUTH_TYPE.none && authType !== AUTH_TYPE.md2 && authType !== AUTH_TYPE.md5 && authType !== AUTH_TYPE.straight && authType !== AUTH_TYPE.oem) {
    throw wireError('BAD_AUTH_TYPE', `auth type ${authType}`);
  }
  const hasCode = authType !== AUTH_TYPE.none;
  const lengthOffset = RMCP_HEADER_LENGTH + 9 + (hasCode ? 16 : 0);
  requireLength(datagram, lengthOffset + 1, 'v1.5 session header');
  const messageLength = datagram[lengthOffset]!;
  const end = lengthOffset + 1 + messageLength;
  requireLength(datagram, end, 'v1.5 message');
  // One legacy pad byte may follow (§13.6 note: some implementations pad to avoid lengths 56/84/112/128/156).
  if (datagram.length > end + 1) throw wireError('BAD_LENGTH', `${datagram.length - end} bytes after the v1.5 message`);
  return {
    authType,
    sequence: readU32(datagram, 5),
    sessionId: readU32(datagram, 9),
    authCode: hasCode ? datagram.slice(RMCP_HEADER_LENGTH + 9, RMCP_HEADER_LENGTH + 25) : undefined,
    message: datagram.slice(lengthOffset + 1, end),
  };
}

/**
 * AuthCode of a v1.5 packet, §22.17.1: straight = password padded to 16;
 * MD5 = MD5(password16 ‖ session ID ‖ message ‖ session sequence ‖ password16).
 */
export function v15AuthCode(crypto: IpmiCrypto, authType: V15AuthType, password: string, sessionId: number, sequence: number, message: Uint8Array): Uint8Array | undefined {
  if (authType === 'none') return undefined;
  const password16 = paddedAscii(password, 16);
  if (authType === 'straight') return password16;
  return crypto.digest('md5', concatBytes(password16, u32le(sessionId), message, u32le(sequence), password16));
}

export function verifyV15AuthCode(crypto: IpmiCrypto, authType: V15AuthType, password: string, packet: V15Packet): void {
  const expected = v15AuthCode(crypto, authType, password, packet.sessionId, packet.sequence, packet.message);
  if (expected === undefined) return;
  if (packet.authCode === undefined || !bytesEqual(expected, packet.authCode)) throw wireError('BAD_AUTH_CODE', 'v1.5 AuthCode does not match');
}

export function authTypeNumber(authType: V15AuthType): number {
  return AUTH_TYPE[authType];
}
