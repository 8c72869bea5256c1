import { MAX_DATAGRAM, bytesEqual, concatBytes, readU16, readU32, requireLength, writeU16, writeU32 } from './bytes.js';
import type { IpmiCrypto } from './crypto.js';
import { wireError } from './errors.js';
import { RMCP_CLASS_IPMI, RMCP_HEADER_LENGTH, rmcpHeader } from './rmcp.js';
import type { ConfidentialityAlgorithm, IntegrityAlgorithm } from './suites/algorithms.js';

// RMCP+ session packet, IPMI v2.0 §13.6 table 13-8 (offsets from the datagram start):
// | RMCP header (4) | auth type 0x06 (1) | payload type (1: bit 7 encrypted, bit 6 authenticated, bits 5:0 type) |
// | session ID (4 LE, the receiver's ID, 0 outside a session) | session sequence (4 LE, 0 outside a session) |
// | payload length (2 LE) | payload … |
// and, when authenticated (§13.28.4):
// | integrity pad 0xFF × n | pad length n (1) | next header 0x07 (1) | AuthCode (12 or 16) |
// n makes (12 + payload length + n + 2) a multiple of 4. AuthCode = HMAC(K1, auth type … next header), truncated.
// Encrypted payloads (§13.29, AES-CBC-128): | IV (16) | AES(K2[0..15], plaintext ‖ 01 02 … k ‖ k) |
// with (plaintext + k + 1) % 16 = 0: the confidentiality trailer, not PKCS#7.
export const PAYLOAD_TYPE = {
  ipmi: 0x00,
  sol: 0x01,
  oemExplicit: 0x02,
  openSessionRequest: 0x10,
  openSessionResponse: 0x11,
  rakp1: 0x12,
  rakp2: 0x13,
  rakp3: 0x14,
  rakp4: 0x15,
} as const;

export interface RmcpPlusPacket {
  payloadType: number;
  encrypted: boolean;
  authenticated: boolean;
  sessionId: number;
  sequence: number;
  /** Plaintext payload (after decryption on decode, before encryption on encode). */
  payload: Uint8Array;
}

/** The session's negotiated keys; absent outside a session (pre-session packets and RAKP). */
export interface RmcpPlusSecurity {
  crypto: IpmiCrypto;
  integrity: IntegrityAlgorithm;
  confidentiality: ConfidentialityAlgorithm;
  k1: Uint8Array;
  k2: Uint8Array;
}

export const RMCP_PLUS_HEADER_LENGTH = RMCP_HEADER_LENGTH + 12;
/** Payload bytes we accept: SOL packets are the largest, and no BMC offers more than a few hundred. */
export const MAX_PAYLOAD = 1000;

export function encodeRmcpPlus(packet: Omit<RmcpPlusPacket, 'encrypted' | 'authenticated'>, security?: RmcpPlusSecurity, iv?: Uint8Array): Uint8Array {
  const encrypt = security?.confidentiality.aes === true;
  const authenticate = security !== undefined && security.integrity.hash !== null;
  const payload = encrypt ? encryptPayload(security, packet.payload, iv) : packet.payload;
  if (payload.length > MAX_PAYLOAD) throw wireError('TOO_LONG', `payload of ${payload.length} bytes`);
  const header = new Uint8Array(RMCP_PLUS_HEADER_LENGTH);
  header.set(rmcpHeader(RMCP_CLASS_IPMI), 0);
  header[4] = 0x06;
  header[5] = (packet.payloadType & 0x3f) | (encrypt ? 0x80 : 0) | (authenticate ? 0x40 : 0);
  writeU32(header, 6, packet.sessionId);
  writeU32(header, 10, packet.sequence);
  writeU16(header, 14, payload.length);
  if (!authenticate) return concatBytes(header, payload);
  const padLength = (4 - ((12 + payload.length + 2) % 4)) % 4;
  const trailer = new Uint8Array(padLength + 2).fill(0xff);
  trailer[padLength] = padLength;
  trailer[padLength + 1] = 0x07;
  const signed = concatBytes(header, payload, trailer);
  return concatBytes(signed, authCode(security, signed.subarray(RMCP_HEADER_LENGTH)));
}

/**
 * Decodes and, when the packet says it is authenticated/encrypted, verifies
 * and decrypts it with `security`. An authenticated packet without security
 * (or an encrypted one) is refused: we never hand out unverifiable bytes.
 */
export function decodeRmcpPlus(datagram: Uint8Array, security?: RmcpPlusSecurity): RmcpPlusPacket {
  if (datagram.length > MAX_DATAGRAM) throw wireError('TOO_LONG', `datagram of ${datagram.length} bytes`);
  requireLength(datagram, RMCP_PLUS_HEADER_LENGTH, 'RMCP+ header');
  if (datagram[0] !== 0x06 || (datagram[3]! & 0x7f) !== RMCP_CLASS_IPMI) throw wireError('BAD_RMCP_HEADER', 'not an RMCP IPMI datagram');
  if ((datagram[4]! & 0x3f) !== 0x06) throw wireError('BAD_AUTH_TYPE', `auth type ${datagram[4]} is not RMCP+`);
  const typeByte = datagram[5]!;
  const payloadType = typeByte & 0x3f;
  if (payloadType === PAYLOAD_TYPE.oemExplicit) throw wireError('BAD_PAYLOAD_TYPE', 'OEM explicit payloads are not supported');
  const encrypted = (typeByte & 0x80) !== 0;
  const authenticated = (typeByte & 0x40) !== 0;
  const sessionId = readU32(datagram, 6);
  const sequence = readU32(datagram, 10);
  const payloadLength = readU16(datagram, 14);
  if (payloadLength > MAX_PAYLOAD) throw wireError('TOO_LONG', `payload length ${payloadLength}`);
  const payloadEnd = RMCP_PLUS_HEADER_LENGTH + payloadLength;
  requireLength(datagram, payloadEnd, 'RMCP+ payload');
  const wirePayload = datagram.subarray(RMCP_PLUS_HEADER_LENGTH, payloadEnd);
  if (authenticated) {
    if (security === undefined || security.integrity.hash === null) throw wireError('BAD_INTEGRITY', 'authenticated packet outside an integrity-protected session');
    const padLength = (4 - ((12 + payloadLength + 2) % 4)) % 4;
    const trailerEnd = payloadEnd + padLength + 2;
    requireLength(datagram, trailerEnd + security.integrity.authCodeLength, 'RMCP+ integrity trailer');
    if (datagram[trailerEnd - 2] !== padLength || datagram[trailerEnd - 1] !== 0x07) throw wireError('BAD_PADDING', 'integrity pad length or next header');
    if (datagram.length !== trailerEnd + security.integrity.authCodeLength) throw wireError('BAD_LENGTH', 'bytes after the AuthCode');
    const expected = authCode(security, datagram.subarray(RMCP_HEADER_LENGTH, trailerEnd));
    if (!bytesEqual(expected, datagram.subarray(trailerEnd))) throw wireError('BAD_INTEGRITY', 'AuthCode does not match');
  } else if (datagram.length !== payloadEnd) {
    throw wireError('BAD_LENGTH', `datagram has ${datagram.length - payloadEnd} bytes after the payload`);
  }
  let payload: Uint8Array;
  if (encrypted) {
    if (security === undefined || !security.confidentiality.aes) throw wireError('BAD_PADDING', 'encrypted packet outside an encrypted session');
    payload = decryptPayload(security, wirePayload);
  } else {
    payload = wirePayload.slice();
  }
  return { payloadType, encrypted, authenticated, sessionId, sequence, payload };
}

function authCode(security: RmcpPlusSecurity, signed: Uint8Array): Uint8Array {
  const hash = security.integrity.hash!;
  return security.crypto.hmac(hash, security.k1, signed).subarray(0, security.integrity.authCodeLength);
}

export function encryptPayload(security: RmcpPlusSecurity, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
  const padLength = (16 - ((plaintext.length + 1) % 16)) % 16;
  const padded = new Uint8Array(plaintext.length + padLength + 1);
  padded.set(plaintext, 0);
  for (let index = 1; index <= padLength; index++) padded[plaintext.length + index - 1] = index;
  padded[padded.length - 1] = padLength;
  const initialisation = iv ?? security.crypto.randomBytes(16);
  if (initialisation.length !== 16) throw wireError('BAD_FIELD', 'AES IV must be 16 bytes');
  return concatBytes(initialisation, security.crypto.aesCbcEncrypt(security.k2.subarray(0, 16), initialisation, padded));
}

export function decryptPayload(security: RmcpPlusSecurity, wirePayload: Uint8Array): Uint8Array {
  if (wirePayload.length < 32 || wirePayload.length % 16 !== 0) throw wireError('BAD_PADDING', `encrypted payload of ${wirePayload.length} bytes`);
  const plaintext = security.crypto.aesCbcDecrypt(security.k2.subarray(0, 16), wirePayload.subarray(0, 16), wirePayload.subarray(16));
  const padLength = plaintext[plaintext.length - 1]!;
  if (padLength > 15) throw wireError('BAD_PADDING', `confidentiality pad length ${padLength}`);
  const dataLength = plaintext.length - 1 - padLength;
  for (let index = 1; index <= padLength; index++) {
    if (plaintext[dataLength + index - 1] !== index) throw wireError('BAD_PADDING', 'confidentiality pad bytes are not 1..n');
  }
  return plaintext.slice(0, dataLength);
}
