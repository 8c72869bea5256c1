import { MAX_DATAGRAM, asciiOf, concatBytes, readU32, requireLength, u32le, writeU32 } from './bytes.js';
import type { IpmiCrypto } from './crypto.js';
import { wireError } from './errors.js';
import type { CipherSuite } from './suites/cipher-suite.js';

// RMCP+ session establishment payloads, IPMI v2.0 §13.17–§13.23, and the
// key-exchange computations of §13.31–§13.32. SIDs are hashed little endian as
// on the wire; randoms and the GUID exactly as sent.

/** RMCP+ status codes, §13.24 table 13-15. */
export const RMCP_PLUS_STATUS = {
  ok: 0x00,
  insufficientResources: 0x01,
  invalidSessionId: 0x02,
  invalidPayloadType: 0x03,
  invalidAuthenticationAlgorithm: 0x04,
  invalidIntegrityAlgorithm: 0x05,
  noMatchingAuthenticationPayload: 0x06,
  noMatchingIntegrityPayload: 0x07,
  inactiveSessionId: 0x08,
  invalidRole: 0x09,
  unauthorizedRole: 0x0a,
  insufficientResourcesForRole: 0x0b,
  invalidNameLength: 0x0c,
  unauthorizedName: 0x0d,
  unauthorizedGuid: 0x0e,
  invalidIntegrityCheckValue: 0x0f,
  invalidConfidentialityAlgorithm: 0x10,
  noCipherSuiteMatch: 0x11,
  illegalParameter: 0x12,
} as const;

export const MAX_USERNAME = 16;

// Open Session Request, §13.17:
// | tag (1) | requested max privilege (1) | reserved (2) | remote console SID (4 LE) |
// | 00 00 00 08 auth alg 00 00 00 | 01 00 00 08 integrity alg 00 00 00 | 02 00 00 08 conf alg 00 00 00 |
export interface OpenSessionRequest {
  tag: number;
  /** 0 = "highest the user may have" (what ipmitool sends); else 1..5. */
  privilege: number;
  consoleSessionId: number;
  authentication: number;
  integrity: number;
  confidentiality: number;
}

export function encodeOpenSessionRequest(request: OpenSessionRequest): Uint8Array {
  const out = new Uint8Array(32);
  out[0] = request.tag;
  out[1] = request.privilege & 0x0f;
  writeU32(out, 4, request.consoleSessionId);
  out.set(algorithmRecord(0, request.authentication), 8);
  out.set(algorithmRecord(1, request.integrity), 16);
  out.set(algorithmRecord(2, request.confidentiality), 24);
  return out;
}

export function decodeOpenSessionRequest(payload: Uint8Array): OpenSessionRequest {
  checkLength(payload, 32, 'Open Session Request');
  return {
    tag: payload[0]!,
    privilege: payload[1]! & 0x0f,
    consoleSessionId: readU32(payload, 4),
    authentication: readAlgorithmRecord(payload, 8, 0),
    integrity: readAlgorithmRecord(payload, 16, 1),
    confidentiality: readAlgorithmRecord(payload, 24, 2),
  };
}

// Open Session Response, §13.18:
// | tag (1) | status (1) | max privilege (1) | reserved (1) | remote console SID (4 LE) | BMC SID (4 LE) |
// | auth record (8) | integrity record (8) | confidentiality record (8) |  — only the first 8 bytes on error.
export interface OpenSessionResponse {
  tag: number;
  status: number;
  privilege: number;
  consoleSessionId: number;
  bmcSessionId: number;
  authentication: number;
  integrity: number;
  confidentiality: number;
}

export function encodeOpenSessionResponse(response: OpenSessionResponse): Uint8Array {
  const out = new Uint8Array(response.status === 0 ? 36 : 8);
  out[0] = response.tag;
  out[1] = response.status;
  out[2] = response.privilege;
  writeU32(out, 4, response.consoleSessionId);
  if (response.status !== 0) return out;
  writeU32(out, 8, response.bmcSessionId);
  out.set(algorithmRecord(0, response.authentication), 12);
  out.set(algorithmRecord(1, response.integrity), 20);
  out.set(algorithmRecord(2, response.confidentiality), 28);
  return out;
}

export function decodeOpenSessionResponse(payload: Uint8Array): OpenSessionResponse {
  // Some BMCs (ipmi_sim) answer an error with only | tag | status |.
  checkLength(payload, 2, 'Open Session Response');
  const status = payload[1]!;
  const shortError = status !== 0 && payload.length < 8;
  const base = { tag: payload[0]!, status, privilege: shortError ? 0 : payload[2]! & 0x0f, consoleSessionId: shortError ? 0 : readU32(payload, 4) };
  if (status !== 0) return { ...base, bmcSessionId: 0, authentication: -1, integrity: -1, confidentiality: -1 };
  checkLength(payload, 36, 'Open Session Response');
  return {
    ...base,
    bmcSessionId: readU32(payload, 8),
    authentication: readAlgorithmRecord(payload, 12, 0),
    integrity: readAlgorithmRecord(payload, 20, 1),
    confidentiality: readAlgorithmRecord(payload, 28, 2),
  };
}

// RAKP Message 1, §13.20:
// | tag (1) | reserved (3) | BMC SID (4 LE) | Rm, console random (16) | role (1: bit 4 name-only lookup, bits 3:0 privilege) |
// | reserved (2) | username length (1) | username (0..16) |
export interface Rakp1 {
  tag: number;
  bmcSessionId: number;
  consoleRandom: Uint8Array;
  role: number;
  username: string;
  /** Quirk "username padding": send the name field as 16 NUL-padded bytes (length byte unchanged). */
  padUsername?: boolean;
}

export function encodeRakp1(message: Rakp1): Uint8Array {
  const name = usernameBytes(message.username);
  const out = new Uint8Array(28 + (message.padUsername ? MAX_USERNAME : name.length));
  out[0] = message.tag;
  writeU32(out, 4, message.bmcSessionId);
  out.set(exact(message.consoleRandom, 16, 'Rm'), 8);
  out[24] = message.role;
  out[27] = name.length;
  out.set(name, 28);
  return out;
}

export function decodeRakp1(payload: Uint8Array): Rakp1 {
  checkLength(payload, 28, 'RAKP 1');
  const nameLength = payload[27]!;
  if (nameLength > MAX_USERNAME) throw wireError('BAD_LENGTH', `RAKP 1 username length ${nameLength}`);
  checkLength(payload, 28 + nameLength, 'RAKP 1 username');
  if (payload.length > 28 + MAX_USERNAME) throw wireError('TOO_LONG', 'RAKP 1 longer than 44 bytes');
  return {
    tag: payload[0]!,
    bmcSessionId: readU32(payload, 4),
    consoleRandom: payload.slice(8, 24),
    role: payload[24]!,
    username: asciiOf(payload.subarray(28, 28 + nameLength)),
    padUsername: payload.length === 28 + MAX_USERNAME && nameLength < MAX_USERNAME,
  };
}

// RAKP Message 2, §13.21:
// | tag (1) | status (1) | reserved (2) | console SID (4 LE) | Rc, BMC random (16) | BMC GUID (16) | key exchange auth code (0/16/20/32) |
export interface Rakp2 {
  tag: number;
  status: number;
  consoleSessionId: number;
  bmcRandom: Uint8Array;
  bmcGuid: Uint8Array;
  authCode: Uint8Array;
}

export function encodeRakp2(message: Rakp2): Uint8Array {
  if (message.status !== 0) return statusOnly(message.tag, message.status, message.consoleSessionId);
  return concatBytes(statusOnly(message.tag, 0, message.consoleSessionId), exact(message.bmcRandom, 16, 'Rc'), exact(message.bmcGuid, 16, 'GUID'), message.authCode);
}

export function decodeRakp2(payload: Uint8Array): Rakp2 {
  checkLength(payload, 2, 'RAKP 2');
  const status = payload[1]!;
  const empty = new Uint8Array();
  if (status !== 0) return { tag: payload[0]!, status, consoleSessionId: payload.length >= 8 ? readU32(payload, 4) : 0, bmcRandom: empty, bmcGuid: empty, authCode: empty };
  checkLength(payload, 40, 'RAKP 2');
  if (payload.length > 40 + 32) throw wireError('TOO_LONG', 'RAKP 2 auth code longer than 32 bytes');
  return { tag: payload[0]!, status, consoleSessionId: readU32(payload, 4), bmcRandom: payload.slice(8, 24), bmcGuid: payload.slice(24, 40), authCode: payload.slice(40) };
}

// RAKP Message 3, §13.22: | tag (1) | status (1) | reserved (2) | BMC SID (4 LE) | key exchange auth code (0/16/20/32) |
// RAKP Message 4, §13.23: | tag (1) | status (1) | reserved (2) | console SID (4 LE) | integrity check value (0/12/16) |
export interface Rakp3Or4 {
  tag: number;
  status: number;
  sessionId: number;
  authCode: Uint8Array;
}

export function encodeRakp3Or4(message: Rakp3Or4): Uint8Array {
  return concatBytes(statusOnly(message.tag, message.status, message.sessionId), message.authCode);
}

export function decodeRakp3Or4(payload: Uint8Array): Rakp3Or4 {
  checkLength(payload, 2, 'RAKP 3/4');
  if (payload.length > 8 + 32) throw wireError('TOO_LONG', 'RAKP 3/4 auth code longer than 32 bytes');
  if (payload[1] !== 0 && payload.length < 8) return { tag: payload[0]!, status: payload[1]!, sessionId: 0, authCode: new Uint8Array() };
  requireLength(payload, 8, 'RAKP 3/4');
  return { tag: payload[0]!, status: payload[1]!, sessionId: readU32(payload, 4), authCode: payload.slice(8) };
}

/** What both sides know after RAKP 2; every key-exchange value is computed from it. */
export interface RakpContext {
  suite: CipherSuite;
  crypto: IpmiCrypto;
  consoleSessionId: number;
  bmcSessionId: number;
  consoleRandom: Uint8Array;
  bmcRandom: Uint8Array;
  bmcGuid: Uint8Array;
  /** The role byte exactly as hashed (normally as sent in RAKP 1, including bit 4). */
  role: number;
  username: string;
  password: string;
  /** BMC key Kg; when absent Kuid (the password) generates the SIK, §13.31. */
  kg?: Uint8Array;
}

/** Kuid: the password, NUL-padded to 20 bytes for every algorithm (§13.31). */
export function userKey(password: string): Uint8Array {
  const out = new Uint8Array(20);
  const encoded = new TextEncoder().encode(password);
  if (encoded.length > 20) throw wireError('BAD_FIELD', 'IPMI v2.0 passwords are at most 20 bytes');
  out.set(encoded);
  return out;
}

/** RAKP 2 auth code, §13.31: HMAC_Kuid(SIDm ‖ SIDc ‖ Rm ‖ Rc ‖ GUIDc ‖ ROLEm ‖ ULENGTHm ‖ UNAMEm). */
export function rakp2AuthCode(context: RakpContext): Uint8Array {
  const name = usernameBytes(context.username);
  return keyedHash(context, userKey(context.password), concatBytes(u32le(context.consoleSessionId), u32le(context.bmcSessionId), context.consoleRandom, context.bmcRandom, context.bmcGuid, Uint8Array.of(context.role, name.length), name));
}

/** RAKP 3 auth code, §13.31: HMAC_Kuid(Rc ‖ SIDm ‖ ROLEm ‖ ULENGTHm ‖ UNAMEm). */
export function rakp3AuthCode(context: RakpContext): Uint8Array {
  const name = usernameBytes(context.username);
  return keyedHash(context, userKey(context.password), concatBytes(context.bmcRandom, u32le(context.consoleSessionId), Uint8Array.of(context.role, name.length), name));
}

/** Session Integrity Key, §13.32: HMAC_(Kg or Kuid)(Rm ‖ Rc ‖ ROLEm ‖ ULENGTHm ‖ UNAMEm). */
export function sessionIntegrityKey(context: RakpContext): Uint8Array {
  const name = usernameBytes(context.username);
  const key = context.kg !== undefined && context.kg.some((byte) => byte !== 0) ? padKey(context.kg) : userKey(context.password);
  return keyedHash(context, key, concatBytes(context.consoleRandom, context.bmcRandom, Uint8Array.of(context.role, name.length), name));
}

/** K1 (integrity) and K2 (confidentiality), §13.32: HMAC_SIK(20 × 0x01) and HMAC_SIK(20 × 0x02), also for SHA-256. */
export function additionalKeys(context: RakpContext, sik: Uint8Array): { k1: Uint8Array; k2: Uint8Array } {
  if (context.suite.authentication.hash === null) return { k1: new Uint8Array(20), k2: new Uint8Array(20) };
  const hash = context.suite.authentication.hash;
  return { k1: context.crypto.hmac(hash, sik, new Uint8Array(20).fill(1)), k2: context.crypto.hmac(hash, sik, new Uint8Array(20).fill(2)) };
}

/** RAKP 4 integrity check value, §13.31: HMAC_SIK(Rm ‖ SIDc ‖ GUIDc), truncated per authentication algorithm. */
export function rakp4Icv(context: RakpContext, sik: Uint8Array): Uint8Array {
  const data = concatBytes(context.consoleRandom, u32le(context.bmcSessionId), context.bmcGuid);
  return keyedHash(context, sik, data).subarray(0, context.suite.authentication.rakp4IcvLength);
}

function keyedHash(context: RakpContext, key: Uint8Array, data: Uint8Array): Uint8Array {
  const hash = context.suite.authentication.hash;
  return hash === null ? new Uint8Array() : context.crypto.hmac(hash, key, data);
}

function padKey(kg: Uint8Array): Uint8Array {
  const out = new Uint8Array(20);
  out.set(kg.subarray(0, 20));
  return out;
}

function usernameBytes(username: string): Uint8Array {
  const bytes = new TextEncoder().encode(username);
  if (bytes.length > MAX_USERNAME) throw wireError('BAD_FIELD', 'IPMI usernames are at most 16 bytes');
  return bytes;
}

function algorithmRecord(recordType: number, algorithm: number): Uint8Array {
  return Uint8Array.of(recordType, 0, 0, 8, algorithm & 0x3f, 0, 0, 0);
}

function readAlgorithmRecord(payload: Uint8Array, offset: number, recordType: number): number {
  if (payload[offset] !== recordType) throw wireError('BAD_FIELD', `algorithm record ${offset}: type ${payload[offset]}, expected ${recordType}`);
  return payload[offset + 4]! & 0x3f;
}

function statusOnly(tag: number, status: number, sessionId: number): Uint8Array {
  const out = new Uint8Array(8);
  out[0] = tag;
  out[1] = status;
  writeU32(out, 4, sessionId);
  return out;
}

function exact(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (bytes.length !== length) throw wireError('BAD_FIELD', `${what} must be ${length} bytes`);
  return bytes;
}

function checkLength(payload: Uint8Array, needed: number, what: string): void {
  if (payload.length > MAX_DATAGRAM) throw wireError('TOO_LONG', `${what} of ${payload.length} bytes`);
  requireLength(payload, needed, what);
}
