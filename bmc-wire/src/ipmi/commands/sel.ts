import { readU16, readU32, requireLength, toHex, writeU16, writeU32 } from '../bytes.js';
import { NET_FN } from '../message.js';
import { type CommandRequest, responseData } from './command.js';
import { eventText } from './sel-text.js';
import { sensorTypeName } from './sensor-names.js';

// SEL commands, storage netFn (0x0A), IPMI v2.0 §31.
export const SEL_COMMAND = { getInfo: 0x40, reserve: 0x42, getEntry: 0x43, clear: 0x47 } as const;

// Get SEL Info response, §31.2:
// | SEL version (1) | entries (2 LE) | free space (2 LE) | last addition (4 LE) | last erase (4 LE) | operation support (1) |
export interface SelInfo {
  version: number;
  entries: number;
  freeSpace: number;
  lastAddition: number;
  lastErase: number;
  operationSupport: number;
}

export const getSelInfoRequest = (): CommandRequest => ({ netFn: NET_FN.storage, command: SEL_COMMAND.getInfo, data: new Uint8Array() });

export function decodeSelInfo(data: Uint8Array): SelInfo {
  responseData(data, 14, 'Get SEL Info');
  return { version: data[0]!, entries: readU16(data, 1), freeSpace: readU16(data, 3), lastAddition: readU32(data, 5), lastErase: readU32(data, 9), operationSupport: data[13]! };
}

export function encodeSelInfo(info: SelInfo): Uint8Array {
  const out = new Uint8Array(14);
  out[0] = info.version;
  writeU16(out, 1, info.entries);
  writeU16(out, 3, info.freeSpace);
  writeU32(out, 5, info.lastAddition);
  writeU32(out, 9, info.lastErase);
  out[13] = info.operationSupport;
  return out;
}

export const reserveSelRequest = (): CommandRequest => ({ netFn: NET_FN.storage, command: SEL_COMMAND.reserve, data: new Uint8Array() });

// Get SEL Entry, §31.5: request | reservation (2 LE) | record ID (2 LE) | offset (1) | bytes (1, 0xFF = all) |;
// response | next record ID (2 LE) | record (16) |
export function getSelEntryRequest(reservation: number, recordId: number): CommandRequest {
  const data = new Uint8Array(6);
  writeU16(data, 0, reservation);
  writeU16(data, 2, recordId);
  data[5] = 0xff;
  return { netFn: NET_FN.storage, command: SEL_COMMAND.getEntry, data };
}

export function decodeGetSelEntry(data: Uint8Array): { nextRecordId: number; record: Uint8Array } {
  responseData(data, 18, 'Get SEL Entry');
  return { nextRecordId: readU16(data, 0), record: data.slice(2, 18) };
}

// Clear SEL, §31.9: request | reservation (2 LE) | 'C' 'L' 'R' | 0xAA initiate or 0x00 get status |;
// response | erasure progress (1: 0 in progress, 1 completed) |
export function clearSelRequest(reservation: number, initiate: boolean): CommandRequest {
  const data = Uint8Array.of(0, 0, 0x43, 0x4c, 0x52, initiate ? 0xaa : 0x00);
  writeU16(data, 0, reservation);
  return { netFn: NET_FN.storage, command: SEL_COMMAND.clear, data };
}

export function decodeClearSel(data: Uint8Array): { completed: boolean } {
  return { completed: (responseData(data, 1, 'Clear SEL')[0]! & 0x0f) === 1 };
}

// SEL record, §32.1 (system event record, type 0x02):
// | record ID (2 LE) | record type (1) | timestamp (4 LE, seconds since 1970) | generator ID (2 LE) | EvM revision (1) |
// | sensor type (1) | sensor number (1) | event dir (bit 7: 1 = deassertion) / event type (bits 6:0) (1) | event data 1–3 (3) |
// Types 0xC0–0xDF: OEM timestamped (timestamp, manufacturer ID, 6 OEM bytes); 0xE0–0xFF: OEM non-timestamped.
export interface SelRecord {
  id: number;
  recordType: number;
  /** null for OEM non-timestamped records and for timestamps ≤ 0x20000000 (BMC clock not set, §37.1). */
  time: string | null;
  sensorType: number;
  sensorNumber: number;
  eventType: number;
  direction: 'asserted' | 'deasserted';
  eventData: Uint8Array;
  /** Human text, e.g. "Upper Critical going high". */
  event: string;
  /** The sensor type name; callers replace it with the SDR name when they have one. */
  sensor: string;
  raw: string;
}

const PRE_INIT_TIMESTAMP = 0x20000000;

export function decodeSelRecord(record: Uint8Array): SelRecord {
  requireLength(record, 16, 'SEL record');
  const bytes = record.subarray(0, 16);
  const id = readU16(bytes, 0);
  const recordType = bytes[2]!;
  const raw = toHex(bytes);
  if (recordType >= 0xc0) {
    const stamped = recordType < 0xe0;
    const timestamp = stamped ? readU32(bytes, 3) : 0;
    return { id, recordType, time: stamped ? isoTime(timestamp) : null, sensorType: 0, sensorNumber: 0, eventType: 0, direction: 'asserted', eventData: bytes.slice(stamped ? 7 : 3), event: stamped ? 'OEM timestamped record' : 'OEM record', sensor: 'OEM', raw };
  }
  const timestamp = readU32(bytes, 3);
  const sensorType = bytes[10]!;
  const eventType = bytes[12]! & 0x7f;
  const eventData = bytes.slice(13, 16);
  return {
    id,
    recordType,
    time: isoTime(timestamp),
    sensorType,
    sensorNumber: bytes[11]!,
    eventType,
    direction: bytes[12]! & 0x80 ? 'deasserted' : 'asserted',
    eventData,
    event: eventText(sensorType, eventType, eventData),
    sensor: sensorTypeName(sensorType),
    raw,
  };
}

function isoTime(timestamp: number): string | null {
  return timestamp <= PRE_INIT_TIMESTAMP ? null : new Date(timestamp * 1000).toISOString();
}
