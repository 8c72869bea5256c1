import { MAX_DATAGRAM, requireLength } from './bytes.js';
import { wireError } from './errors.js';

// IPMI LAN message inside a session payload, IPMI v2.0 §13.8 (and §22.12 for v1.5):
// | rsSA (1) | netFn<<2 | rsLUN (1) | checksum 1 (1) | rqSA (1) | rqSeq<<2 | rqLUN (1) | cmd (1) | data … | checksum 2 (1) |
// A response has the same shape with the roles swapped: the first address is
// the requester (0x81), netFn is odd, and data starts with the completion code.
// Checksums are two's complement: the covered bytes plus the checksum sum to 0 mod 256.
export interface IpmiMessage {
  /** First byte: rsSA for a request, rqSA for a response. */
  destinationAddress: number;
  netFn: number;
  destinationLun: number;
  sourceAddress: number;
  /** rqSeq, 6 bits: pairs a response with its request. */
  sequence: number;
  sourceLun: number;
  command: number;
  /** Request data, or completion code followed by response data. */
  data: Uint8Array;
}

export const BMC_ADDRESS = 0x20;
export const REMOTE_CONSOLE_ADDRESS = 0x81;
/** Data bytes we accept in one message; the largest real ones (Get SDR) are < 80. */
export const MAX_MESSAGE_DATA = 255;

export function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let index = start; index < end; index++) sum = (sum + bytes[index]!) & 0xff;
  return (0x100 - sum) & 0xff;
}

export function encodeIpmiMessage(message: IpmiMessage): Uint8Array {
  if (message.data.length > MAX_MESSAGE_DATA) throw wireError('TOO_LONG', `IPMI message data of ${message.data.length} bytes`);
  const out = new Uint8Array(7 + message.data.length);
  out[0] = message.destinationAddress;
  out[1] = ((message.netFn & 0x3f) << 2) | (message.destinationLun & 0x03);
  out[2] = checksum(out, 0, 2);
  out[3] = message.sourceAddress;
  out[4] = ((message.sequence & 0x3f) << 2) | (message.sourceLun & 0x03);
  out[5] = message.command;
  out.set(message.data, 6);
  out[out.length - 1] = checksum(out, 3, out.length - 1);
  return out;
}

export function decodeIpmiMessage(bytes: Uint8Array): IpmiMessage {
  if (bytes.length > MAX_DATAGRAM) throw wireError('TOO_LONG', `IPMI message of ${bytes.length} bytes`);
  requireLength(bytes, 7, 'IPMI message');
  if (checksum(bytes, 0, 3) !== 0) throw wireError('BAD_CHECKSUM', 'IPMI header checksum');
  if (checksum(bytes, 3, bytes.length) !== 0) throw wireError('BAD_CHECKSUM', 'IPMI data checksum');
  return {
    destinationAddress: bytes[0]!,
    netFn: bytes[1]! >> 2,
    destinationLun: bytes[1]! & 0x03,
    sourceAddress: bytes[3]!,
    sequence: bytes[4]! >> 2,
    sourceLun: bytes[4]! & 0x03,
    command: bytes[5]!,
    data: bytes.slice(6, bytes.length - 1),
  };
}

/** A request from the remote console (0x81) to the BMC (0x20), LUN 0. */
export function requestMessage(netFn: number, command: number, sequence: number, data: Uint8Array = new Uint8Array()): IpmiMessage {
  return { destinationAddress: BMC_ADDRESS, netFn, destinationLun: 0, sourceAddress: REMOTE_CONSOLE_ADDRESS, sequence, sourceLun: 0, command, data };
}

/** The response a BMC sends for `request`: netFn + 1, addresses swapped, completion code first. */
export function responseMessage(request: IpmiMessage, completionCode: number, data: Uint8Array = new Uint8Array()): IpmiMessage {
  const body = new Uint8Array(1 + data.length);
  body[0] = completionCode;
  body.set(data, 1);
  return {
    destinationAddress: request.sourceAddress,
    netFn: request.netFn | 1,
    destinationLun: request.sourceLun,
    sourceAddress: request.destinationAddress,
    sequence: request.sequence,
    sourceLun: request.destinationLun,
    command: request.command,
    data: body,
  };
}

export function isResponse(message: IpmiMessage): boolean {
  return (message.netFn & 1) === 1;
}

export function completionCodeOf(response: IpmiMessage): number {
  if (response.data.length < 1) throw wireError('TRUNCATED', 'response without completion code');
  return response.data[0]!;
}

export const NET_FN = { chassis: 0x00, sensor: 0x04, app: 0x06, storage: 0x0a, transport: 0x0c } as const;

/** Completion codes named in IPMI v2.0 §5.2 table 5-2 that callers act on. */
export const COMPLETION = {
  ok: 0x00,
  nodeBusy: 0xc0,
  invalidCommand: 0xc1,
  timeout: 0xc3,
  outOfSpace: 0xc4,
  reservationCancelled: 0xc5,
  requestTruncated: 0xc6,
  requestLengthInvalid: 0xc7,
  requestTooLong: 0xc8,
  parameterOutOfRange: 0xc9,
  cannotReturnBytes: 0xca,
  notPresent: 0xcb,
  invalidDataField: 0xcc,
  duplicateRequest: 0xcf,
  insufficientPrivilege: 0xd4,
  notSupportedInState: 0xd5,
  unspecified: 0xff,
} as const;
