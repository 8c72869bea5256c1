import { asciiOf, concatBytes, paddedAscii, readU16, readU32, u32le, writeU16, writeU32 } from '../bytes.js';
import { wireError } from '../errors.js';
import { NET_FN } from '../message.js';
import { type CommandRequest, requestData, responseData } from './command.js';

// Application netFn (0x06) commands used for sessions, IPMI v2.0 §20, §22, §24.

export const APP_COMMAND = {
  getDeviceId: 0x01,
  getChannelAuthCapabilities: 0x38,
  getSessionChallenge: 0x39,
  activateSession: 0x3a,
  setSessionPrivilege: 0x3b,
  closeSession: 0x3c,
  getSessionInfo: 0x3d,
  activatePayload: 0x48,
  deactivatePayload: 0x49,
  getPayloadActivationStatus: 0x4a,
  getPayloadInstanceInfo: 0x4b,
  getChannelPayloadSupport: 0x4e,
  getSystemGuid: 0x37,
  getChannelCipherSuites: 0x54,
} as const;

const app = (command: number, data: Uint8Array = new Uint8Array()): CommandRequest => ({ netFn: NET_FN.app, command, data });

// Get Device ID response, §20.1:
// | device ID (1) | device revision (1) | firmware major (1: bit 7 = update in progress) | firmware minor (1, BCD) |
// | IPMI version (1, BCD: 0x02 = 2.0) | additional device support (1) | manufacturer ID (3 LE) | product ID (2 LE) | [aux firmware (4)] |
export interface DeviceId {
  deviceId: number;
  deviceRevision: number;
  firmware: string;
  ipmiVersion: string;
  additionalSupport: number;
  manufacturerId: number;
  productId: number;
}

export const getDeviceIdRequest = (): CommandRequest => app(APP_COMMAND.getDeviceId);

export function decodeDeviceId(data: Uint8Array): DeviceId {
  responseData(data, 11, 'Get Device ID');
  const minor = data[3]!;
  return {
    deviceId: data[0]!,
    deviceRevision: data[1]! & 0x0f,
    firmware: `${data[2]! & 0x7f}.${(minor >> 4).toString()}${(minor & 0x0f).toString()}`,
    ipmiVersion: `${data[4]! & 0x0f}.${data[4]! >> 4}`,
    additionalSupport: data[5]!,
    manufacturerId: (data[6]! | (data[7]! << 8) | (data[8]! << 16)) >>> 0,
    productId: readU16(data, 9),
  };
}

export function encodeDeviceId(device: { deviceId: number; deviceRevision: number; firmwareMajor: number; firmwareMinorBcd: number; additionalSupport: number; manufacturerId: number; productId: number }): Uint8Array {
  const out = new Uint8Array(11);
  out.set([device.deviceId, device.deviceRevision & 0x0f, device.firmwareMajor & 0x7f, device.firmwareMinorBcd, 0x02, device.additionalSupport]);
  out.set([device.manufacturerId & 0xff, (device.manufacturerId >> 8) & 0xff, (device.manufacturerId >> 16) & 0xff], 6);
  writeU16(out, 9, device.productId);
  return out;
}

// Get Channel Authentication Capabilities, §22.13.
// Request:  | channel (1: bit 7 = "get IPMI v2.0 extended data", 0x0E = this channel) | requested privilege (1) |
// Response: | channel (1) | auth type support (1: bit 7 = extended, bit 5 OEM, 4 straight, 2 MD5, 1 MD2, 0 none) |
//           | status (1: 0x20 Kg set, 0x10 per-message auth disabled, 0x08 user-level auth disabled,
//           |   0x04 non-null usernames, 0x02 null usernames, 0x01 anonymous login) |
//           | extended capabilities (1: bit 1 IPMI 2.0 connections, bit 0 IPMI 1.5) | OEM ID (3) | OEM aux (1) |
export interface ChannelAuthCapabilities {
  channel: number;
  authTypes: { none: boolean; md2: boolean; md5: boolean; straight: boolean; oem: boolean };
  kgSet: boolean;
  perMessageAuthDisabled: boolean;
  userLevelAuthDisabled: boolean;
  nonNullUsers: boolean;
  nullUsers: boolean;
  anonymousLogin: boolean;
  ipmi20: boolean;
  ipmi15: boolean;
}

export const getChannelAuthCapabilitiesRequest = (privilege: number, extended = true): CommandRequest =>
  app(APP_COMMAND.getChannelAuthCapabilities, Uint8Array.of(0x0e | (extended ? 0x80 : 0), privilege & 0x0f));

export function decodeChannelAuthCapabilitiesRequest(data: Uint8Array): { channel: number; extended: boolean; privilege: number } {
  requestData(data, 2, 'Get Channel Auth Capabilities');
  return { channel: data[0]! & 0x0f, extended: (data[0]! & 0x80) !== 0, privilege: data[1]! & 0x0f };
}

export function decodeChannelAuthCapabilities(data: Uint8Array): ChannelAuthCapabilities {
  responseData(data, 8, 'Get Channel Auth Capabilities');
  const types = data[1]!;
  const status = data[2]!;
  const extended = (types & 0x80) !== 0;
  return {
    channel: data[0]! & 0x0f,
    authTypes: { none: (types & 0x01) !== 0, md2: (types & 0x02) !== 0, md5: (types & 0x04) !== 0, straight: (types & 0x10) !== 0, oem: (types & 0x20) !== 0 },
    kgSet: (status & 0x20) !== 0,
    perMessageAuthDisabled: (status & 0x10) !== 0,
    userLevelAuthDisabled: (status & 0x08) !== 0,
    nonNullUsers: (status & 0x04) !== 0,
    nullUsers: (status & 0x02) !== 0,
    anonymousLogin: (status & 0x01) !== 0,
    ipmi20: extended && (data[3]! & 0x02) !== 0,
    ipmi15: !extended || (data[3]! & 0x01) !== 0,
  };
}

export function encodeChannelAuthCapabilities(caps: ChannelAuthCapabilities, extended: boolean): Uint8Array {
  const types = (caps.authTypes.none ? 0x01 : 0) | (caps.authTypes.md2 ? 0x02 : 0) | (caps.authTypes.md5 ? 0x04 : 0) | (caps.authTypes.straight ? 0x10 : 0) | (caps.authTypes.oem ? 0x20 : 0);
  const status = (caps.kgSet ? 0x20 : 0) | (caps.perMessageAuthDisabled ? 0x10 : 0) | (caps.userLevelAuthDisabled ? 0x08 : 0) | (caps.nonNullUsers ? 0x04 : 0) | (caps.nullUsers ? 0x02 : 0) | (caps.anonymousLogin ? 0x01 : 0);
  const versions = extended ? (caps.ipmi20 ? 0x02 : 0) | (caps.ipmi15 ? 0x01 : 0) : 0;
  return Uint8Array.of(caps.channel, types | (extended ? 0x80 : 0), status, versions, 0, 0, 0, 0);
}

// Get System GUID, §22.14: allowed outside a session (a console may read it before RAKP), no request data.
// Response: | GUID (16) |, least significant byte first (the Wired for Management byte order of
// §20.8: node (6), clock seq (2), time high (2), time mid (2), time low (4), each reversed on the wire).
// The text form is the usual 8-4-4-4-12 of the bytes most significant first, as SMBIOS and Redfish print a UUID.
export const getSystemGuidRequest = (): CommandRequest => app(APP_COMMAND.getSystemGuid);

const HEX_BYTE = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function decodeSystemGuid(data: Uint8Array): string {
  responseData(data, 16, 'Get System GUID');
  // A discovery scan decodes one per BMC found: byte by byte from a table, not an array of strings per GUID.
  let hex = '';
  for (let index = 15; index >= 0; index--) hex += HEX_BYTE[data[index]!]!;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function encodeSystemGuid(guid: string): Uint8Array {
  const hex = guid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw wireError('BAD_LENGTH', 'a GUID is 16 bytes');
  return Uint8Array.from({ length: 16 }, (_, index) => parseInt(hex.slice(30 - index * 2, 32 - index * 2), 16));
}

// Get Channel Cipher Suites, §22.15.
// Request:  | channel (1) | payload type (1) | list index (1: bit 7 = list by cipher suite, bits 5:0 = 16-byte block) |
// Response: | channel (1) | up to 16 bytes of cipher suite record data |
// Records: | 0xC0 | suite ID | auth alg (00xx xxxx) | integrity (01xx xxxx) … | confidentiality (10xx xxxx) … |
//          | 0xC1 | suite ID | OEM IANA (3) | algorithms … |
export interface CipherSuiteRecord {
  id: number;
  authentication: number;
  integrity: number[];
  confidentiality: number[];
  oemIana?: number;
}

export const getChannelCipherSuitesRequest = (listIndex: number): CommandRequest =>
  app(APP_COMMAND.getChannelCipherSuites, Uint8Array.of(0x0e, 0x00, 0x80 | (listIndex & 0x3f)));

/** Record bytes of one Get Channel Cipher Suites response (data after the channel byte). */
export function cipherSuiteBlock(data: Uint8Array): Uint8Array {
  responseData(data, 1, 'Get Channel Cipher Suites');
  if (data.length > 17) throw wireError('TOO_LONG', 'cipher suite block longer than 16 bytes');
  return data.slice(1);
}

/** Parses the concatenated record data of all blocks. */
export function decodeCipherSuiteRecords(records: Uint8Array): CipherSuiteRecord[] {
  const suites: CipherSuiteRecord[] = [];
  let offset = 0;
  while (offset < records.length && suites.length < 64) {
    const start = records[offset]!;
    if (start !== 0xc0 && start !== 0xc1) throw wireError('BAD_FIELD', `cipher suite record starts with 0x${start.toString(16)}`);
    let cursor = offset + 2;
    if (cursor > records.length) throw wireError('TRUNCATED', 'cipher suite record');
    const record: CipherSuiteRecord = { id: records[offset + 1]!, authentication: -1, integrity: [], confidentiality: [] };
    if (start === 0xc1) {
      if (cursor + 3 > records.length) throw wireError('TRUNCATED', 'OEM cipher suite record');
      record.oemIana = records[cursor]! | (records[cursor + 1]! << 8) | (records[cursor + 2]! << 16);
      cursor += 3;
    }
    while (cursor < records.length && records[cursor]! < 0xc0) {
      const byte = records[cursor]!;
      const kind = byte >> 6;
      if (kind === 0) record.authentication = byte & 0x3f;
      else if (kind === 1) record.integrity.push(byte & 0x3f);
      else record.confidentiality.push(byte & 0x3f);
      cursor++;
    }
    suites.push(record);
    offset = cursor;
  }
  return suites;
}

export function encodeCipherSuiteRecords(suites: readonly CipherSuiteRecord[]): Uint8Array {
  return concatBytes(...suites.map((suite) => Uint8Array.of(0xc0, suite.id, suite.authentication & 0x3f, ...suite.integrity.map((id) => 0x40 | id), ...suite.confidentiality.map((id) => 0x80 | id))));
}

// Get Session Challenge (v1.5), §22.16: request | auth type (1) | username (16, NUL padded) |;
// response | temporary session ID (4 LE) | challenge (16) |.
export const getSessionChallengeRequest = (authType: number, username: string): CommandRequest =>
  app(APP_COMMAND.getSessionChallenge, concatBytes(Uint8Array.of(authType), paddedAscii(username, 16)));

export function decodeSessionChallengeRequest(data: Uint8Array): { authType: number; username: string } {
  requestData(data, 17, 'Get Session Challenge');
  return { authType: data[0]! & 0x0f, username: asciiOf(data.subarray(1, 17)) };
}

export function decodeSessionChallenge(data: Uint8Array): { temporarySessionId: number; challenge: Uint8Array } {
  responseData(data, 20, 'Get Session Challenge');
  return { temporarySessionId: readU32(data, 0), challenge: data.slice(4, 20) };
}

// Activate Session (v1.5), §22.17: request | auth type (1) | max privilege (1) | challenge (16) | initial outbound seq (4 LE) |;
// response | auth type (1) | session ID (4 LE) | initial inbound seq (4 LE) | max privilege (1) |.
export const activateSessionRequest = (authType: number, privilege: number, challenge: Uint8Array, initialOutboundSequence: number): CommandRequest =>
  app(APP_COMMAND.activateSession, concatBytes(Uint8Array.of(authType, privilege), challenge, u32le(initialOutboundSequence)));

export function decodeActivateSessionRequest(data: Uint8Array): { authType: number; privilege: number; challenge: Uint8Array; initialOutboundSequence: number } {
  requestData(data, 22, 'Activate Session');
  return { authType: data[0]! & 0x0f, privilege: data[1]! & 0x0f, challenge: data.slice(2, 18), initialOutboundSequence: readU32(data, 18) };
}

export function decodeActivateSession(data: Uint8Array): { authType: number; sessionId: number; initialInboundSequence: number; privilege: number } {
  responseData(data, 10, 'Activate Session');
  return { authType: data[0]! & 0x0f, sessionId: readU32(data, 1), initialInboundSequence: readU32(data, 5), privilege: data[9]! & 0x0f };
}

export function encodeActivateSession(response: { authType: number; sessionId: number; initialInboundSequence: number; privilege: number }): Uint8Array {
  const out = new Uint8Array(10);
  out[0] = response.authType;
  writeU32(out, 1, response.sessionId);
  writeU32(out, 5, response.initialInboundSequence);
  out[9] = response.privilege;
  return out;
}

// Set Session Privilege Level, §22.18: request | privilege (1) |; response | new privilege (1) |.
export const setSessionPrivilegeRequest = (privilege: number): CommandRequest => app(APP_COMMAND.setSessionPrivilege, Uint8Array.of(privilege & 0x0f));
export function decodeSessionPrivilege(data: Uint8Array): number {
  return responseData(data, 1, 'Set Session Privilege')[0]! & 0x0f;
}

// Close Session, §22.19: request | session ID (4 LE) |.
export const closeSessionRequest = (sessionId: number): CommandRequest => app(APP_COMMAND.closeSession, u32le(sessionId));

// Get Session Info, §22.20.
// Request:  | session index (1: 0x00 = this session, N = the Nth active one, 0xFE = by handle, 0xFF = by session ID) |
//           | handle (1) or session ID (4 LE), only for 0xFE / 0xFF |
// Response: | session handle (1, 0 = none) | possible sessions (1, bits 5:0) | active sessions (1, bits 5:0) |
//           then, when a session was found: | user ID (1, bits 5:0) | privilege (1, bits 3:0) |
//           | protocol aux (bits 7:4: 0 = v1.5, 1 = v2.0) ‖ channel (bits 3:0) | and for a LAN channel
//           | console IP (4) | console MAC (6) | console port (2, MS byte first) |
export interface SessionInfo {
  handle: number;
  possibleSessions: number;
  activeSessions: number;
  /** Absent when the index named no session. */
  session?: { userId: number; privilege: number; rmcpPlus: boolean; channel: number; address?: string; port?: number };
}

export const getSessionInfoRequest = (which: number | { sessionId: number } = 0): CommandRequest =>
  app(APP_COMMAND.getSessionInfo, typeof which === 'number' ? Uint8Array.of(which) : concatBytes(Uint8Array.of(0xff), u32le(which.sessionId)));

export function decodeSessionInfo(data: Uint8Array): SessionInfo {
  responseData(data, 3, 'Get Session Info');
  const info: SessionInfo = { handle: data[0]!, possibleSessions: data[1]! & 0x3f, activeSessions: data[2]! & 0x3f };
  if (data.length < 6 || info.handle === 0) return info;
  const session: NonNullable<SessionInfo['session']> = { userId: data[3]! & 0x3f, privilege: data[4]! & 0x0f, rmcpPlus: data[5]! >> 4 === 1, channel: data[5]! & 0x0f };
  if (data.length >= 18) {
    session.address = `${data[6]}.${data[7]}.${data[8]}.${data[9]}`;
    session.port = (data[16]! << 8) | data[17]!;
  }
  info.session = session;
  return info;
}

export function encodeSessionInfo(info: SessionInfo): Uint8Array {
  const head = Uint8Array.of(info.handle, info.possibleSessions & 0x3f, info.activeSessions & 0x3f);
  const session = info.session;
  if (session === undefined) return head;
  const octets = (session.address ?? '0.0.0.0').split('.').map((part) => Number(part) & 0xff);
  const port = session.port ?? 0;
  return concatBytes(head, Uint8Array.of(session.userId & 0x3f, session.privilege & 0x0f, ((session.rmcpPlus ? 1 : 0) << 4) | (session.channel & 0x0f)), Uint8Array.from(octets.length === 4 ? octets : [0, 0, 0, 0]), new Uint8Array(6), Uint8Array.of(port >> 8, port & 0xff));
}

// Activate Payload, §24.1.
// Request:  | payload type (1) | instance (1) | aux data (4: byte 0 bit 7 encrypt, 6 authenticate, 3:2 serial alert, 1 no CTS …) |
// Response: | aux (4) | max inbound payload size (2 LE) | max outbound payload size (2 LE) | UDP port (2 LE) | VLAN (2 LE) |
export interface PayloadActivation {
  inboundSize: number;
  outboundSize: number;
  port: number;
  vlan: number;
}

export const activatePayloadRequest = (payloadType: number, instance: number, auxiliary: number): CommandRequest =>
  app(APP_COMMAND.activatePayload, Uint8Array.of(payloadType, instance, auxiliary, 0, 0, 0));

export function decodeActivatePayloadRequest(data: Uint8Array): { payloadType: number; instance: number; auxiliary: number } {
  requestData(data, 6, 'Activate Payload');
  return { payloadType: data[0]! & 0x3f, instance: data[1]! & 0x0f, auxiliary: data[2]! };
}

export function decodePayloadActivation(data: Uint8Array): PayloadActivation {
  responseData(data, 12, 'Activate Payload');
  return { inboundSize: readU16(data, 4), outboundSize: readU16(data, 6), port: readU16(data, 8), vlan: readU16(data, 10) };
}

export function encodePayloadActivation(activation: PayloadActivation): Uint8Array {
  const out = new Uint8Array(12);
  writeU16(out, 4, activation.inboundSize);
  writeU16(out, 6, activation.outboundSize);
  writeU16(out, 8, activation.port);
  writeU16(out, 10, activation.vlan);
  return out;
}

// Deactivate Payload, §24.2: | payload type (1) | instance (1) | aux (4) |. cc 0x80 = already deactivated.
export const deactivatePayloadRequest = (payloadType: number, instance: number): CommandRequest =>
  app(APP_COMMAND.deactivatePayload, Uint8Array.of(payloadType, instance, 0, 0, 0, 0));

// Get Payload Instance Info, §24.5: request | payload type (1) | instance (1) |;
// response | owner session ID (4 LE, 0 = not active) | OEM / port data (8) |.
export const getPayloadInstanceInfoRequest = (payloadType: number, instance: number): CommandRequest =>
  app(APP_COMMAND.getPayloadInstanceInfo, Uint8Array.of(payloadType, instance));

export function decodePayloadInstanceInfo(data: Uint8Array): { ownerSessionId: number } {
  responseData(data, 4, 'Get Payload Instance Info');
  return { ownerSessionId: readU32(data, 0) };
}

/** Completion codes of Activate Payload, §24.1. */
export const ACTIVATE_PAYLOAD_COMPLETION = {
  alreadyActive: 0x80,
  disabled: 0x81,
  limitReached: 0x82,
  cannotEncrypt: 0x83,
  requiresEncryption: 0x84,
} as const;
