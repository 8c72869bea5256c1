import { wireError } from '../errors.js';
import { NET_FN } from '../message.js';
import { type CommandRequest, requestData, responseData } from './command.js';

// Get System Info Parameters, application netFn (0x06) command 0x59, IPMI v2.0 rev 1.1 §22.14b (added with Set
// System Info Parameters, §22.14a, by the v2.0 errata; many BMCs older than that answer 0xC1 invalid command):
// request  | get (1: bit 7 = 1 "parameter revision only") | parameter selector (1) | set selector (1) | block selector (1) |
// response | parameter revision (1) | parameter data … |
// Completion code 0x80 = parameter not supported.
export const SYSTEM_INFO_COMMAND = { getParameters: 0x59 } as const;

export const SYSTEM_INFO_PARAMETER = { systemFirmwareVersion: 0x01 } as const;

/** Completion code of Get System Info Parameters for a parameter the BMC does not keep. */
export const PARAMETER_NOT_SUPPORTED = 0x80;

export function getSystemInfoRequest(parameter: number, setSelector: number): CommandRequest {
  return { netFn: NET_FN.app, command: SYSTEM_INFO_COMMAND.getParameters, data: Uint8Array.of(0x00, parameter, setSelector, 0x00) };
}

export function decodeGetSystemInfoRequest(data: Uint8Array): { revisionOnly: boolean; parameter: number; setSelector: number } {
  requestData(data, 4, 'Get System Info Parameters');
  return { revisionOnly: (data[0]! & 0x80) !== 0, parameter: data[1]!, setSelector: data[2]! };
}

// String parameters (1 system firmware version, 2 system name, 3 primary OS name, 4 OS name) come in 16-byte sets:
// set 0 | set selector (1) | encoding (1: bits 3:0, 0 ASCII+Latin-1, 1 UTF-8, 2 UCS-2 LE) | string length (1) | first 14 bytes |
// set n | set selector (1) | next 16 bytes |
export const SYSTEM_INFO_STRING_MAX = 256;
export const SYSTEM_INFO_FIRST_SET_BYTES = 14;
export const SYSTEM_INFO_SET_BYTES = 16;

export interface SystemInfoStringStart {
  encoding: number;
  length: number;
  bytes: Uint8Array;
}

/** Response data of set 0: the parameter revision byte, then the parameter data. */
export function decodeSystemInfoStringStart(data: Uint8Array): SystemInfoStringStart {
  responseData(data, 4, 'Get System Info Parameters (set 0)');
  const set = data[1]!;
  if (set !== 0) throw wireError('BAD_FIELD', `Get System Info Parameters answered set ${set} for set 0`, { field: 'setSelector' });
  const length = data[3]!;
  return { encoding: data[2]! & 0x0f, length, bytes: data.slice(4, 4 + Math.min(length, SYSTEM_INFO_FIRST_SET_BYTES)) };
}

/** Response data of set n > 0 (revision byte first): its string bytes. */
export function decodeSystemInfoStringSet(data: Uint8Array, set: number): Uint8Array {
  responseData(data, 2, `Get System Info Parameters (set ${set})`);
  if (data[1]! !== set) throw wireError('BAD_FIELD', `Get System Info Parameters answered set ${data[1]!} for set ${set}`, { field: 'setSelector' });
  return data.slice(2, 2 + SYSTEM_INFO_SET_BYTES);
}

/** The string's text by its encoding; trailing NULs dropped. An unknown encoding is BAD_FIELD. */
export function systemInfoText(encoding: number, bytes: Uint8Array): string {
  const decoder = encoding === 0 ? 'latin1' : encoding === 1 ? 'utf-8' : encoding === 2 ? 'utf-16le' : undefined;
  if (decoder === undefined) throw wireError('BAD_FIELD', `system info string encoding ${encoding} is reserved`, { field: 'encoding' });
  return new TextDecoder(decoder).decode(bytes).replace(/\0+$/, '').trim();
}

/** The BMC role: set `set` of a string parameter, ASCII + Latin-1 encoded, as a response (revision byte first). */
export function encodeSystemInfoStringSet(text: string, set: number): Uint8Array {
  const bytes = Uint8Array.from(text.slice(0, SYSTEM_INFO_STRING_MAX), (char) => char.charCodeAt(0) & 0xff);
  if (set === 0) {
    const out = new Uint8Array(4 + SYSTEM_INFO_FIRST_SET_BYTES);
    out.set([0x11, 0, 0, bytes.length]);
    out.set(bytes.subarray(0, SYSTEM_INFO_FIRST_SET_BYTES), 4);
    return out;
  }
  const start = SYSTEM_INFO_FIRST_SET_BYTES + (set - 1) * SYSTEM_INFO_SET_BYTES;
  const out = new Uint8Array(2 + SYSTEM_INFO_SET_BYTES);
  out.set([0x11, set]);
  out.set(bytes.subarray(start, start + SYSTEM_INFO_SET_BYTES), 2);
  return out;
}
