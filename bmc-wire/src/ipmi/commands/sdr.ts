import { readU16, readU32, writeU16 } from '../bytes.js';
import { NET_FN } from '../message.js';
import { type CommandRequest, responseData } from './command.js';

// SDR repository commands, storage netFn (0x0A), IPMI v2.0 §33.
export const SDR_COMMAND = { getRepositoryInfo: 0x20, reserveRepository: 0x22, getSdr: 0x23 } as const;

// Get SDR Repository Info response, §33.9:
// | SDR version (1) | record count (2 LE) | free space (2 LE) | most recent addition (4 LE) | most recent erase (4 LE) | operation support (1) |
export interface SdrRepositoryInfo {
  version: number;
  recordCount: number;
  freeSpace: number;
  lastAddition: number;
  lastErase: number;
  operationSupport: number;
}

export const getSdrRepositoryInfoRequest = (): CommandRequest => ({ netFn: NET_FN.storage, command: SDR_COMMAND.getRepositoryInfo, data: new Uint8Array() });

export function decodeSdrRepositoryInfo(data: Uint8Array): SdrRepositoryInfo {
  responseData(data, 14, 'Get SDR Repository Info');
  return { version: data[0]!, recordCount: readU16(data, 1), freeSpace: readU16(data, 3), lastAddition: readU32(data, 5), lastErase: readU32(data, 9), operationSupport: data[13]! };
}

// Reserve SDR Repository response, §33.11: | reservation ID (2 LE) |
export const reserveSdrRepositoryRequest = (): CommandRequest => ({ netFn: NET_FN.storage, command: SDR_COMMAND.reserveRepository, data: new Uint8Array() });
export function decodeReservation(data: Uint8Array): number {
  return readU16(responseData(data, 2, 'Reserve'), 0);
}

// Get SDR, §33.12: request | reservation (2 LE) | record ID (2 LE) | offset (1) | bytes to read (1, 0xFF = all) |;
// response | next record ID (2 LE, 0xFFFF = last) | record bytes … |
export const FIRST_RECORD = 0x0000;
export const LAST_RECORD = 0xffff;

export function getSdrRequest(reservation: number, recordId: number, offset: number, length: number): CommandRequest {
  const data = new Uint8Array(6);
  writeU16(data, 0, reservation);
  writeU16(data, 2, recordId);
  data[4] = offset;
  data[5] = length;
  return { netFn: NET_FN.storage, command: SDR_COMMAND.getSdr, data };
}

export function decodeGetSdr(data: Uint8Array): { nextRecordId: number; bytes: Uint8Array } {
  responseData(data, 2, 'Get SDR');
  return { nextRecordId: readU16(data, 0), bytes: data.slice(2) };
}
