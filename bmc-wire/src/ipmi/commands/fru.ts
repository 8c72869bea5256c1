import { readU16, toHex, writeU16 } from '../bytes.js';
import { wireError } from '../errors.js';
import { NET_FN } from '../message.js';
import { type CommandRequest, requestData, responseData } from './command.js';
import { sixBitAscii } from './sdr-record.js';

// FRU inventory device commands, storage netFn (0x0A), IPMI v2.0 §34; the data they carry is laid out by the
// Platform Management FRU Information Storage Definition v1.0 rev 1.3 ("FRU spec" below).
export const FRU_COMMAND = { getInventoryAreaInfo: 0x10, readData: 0x11 } as const;

/** The FRU device every BMC's own board is described by (IPMI v2.0 §34: device ID 0 at LUN 0 of the BMC). */
export const BMC_FRU_DEVICE = 0;

// Get FRU Inventory Area Info, §34.1: request | FRU device ID (1) |;
// response | inventory area size in bytes (2 LE) | access (1: bit 0 = 1 by words, 0 by bytes) |
export interface FruInventoryInfo {
  size: number;
  /** Offsets and counts of Read FRU Data are in 16-bit words, not bytes. */
  byWords: boolean;
}

export const getFruInventoryAreaInfoRequest = (deviceId: number): CommandRequest => ({ netFn: NET_FN.storage, command: FRU_COMMAND.getInventoryAreaInfo, data: Uint8Array.of(deviceId) });

export function decodeFruInventoryAreaInfo(data: Uint8Array): FruInventoryInfo {
  responseData(data, 3, 'Get FRU Inventory Area Info');
  return { size: readU16(data, 0), byWords: (data[2]! & 0x01) === 1 };
}

export function encodeFruInventoryAreaInfo(info: FruInventoryInfo): Uint8Array {
  const out = Uint8Array.of(0, 0, info.byWords ? 1 : 0);
  writeU16(out, 0, info.size);
  return out;
}

export function decodeFruDeviceRequest(data: Uint8Array): number {
  return requestData(data, 1, 'FRU')[0]!;
}

// Read FRU Data, §34.2: request | FRU device ID (1) | offset (2 LE) | count to read (1) |;
// response | count returned (1) | data … |. Offset and counts are in words when the area is accessed by words.
export interface ReadFruDataParams {
  deviceId: number;
  offset: number;
  count: number;
}

export function readFruDataRequest(deviceId: number, offset: number, count: number): CommandRequest {
  const data = Uint8Array.of(deviceId, 0, 0, count);
  writeU16(data, 1, offset);
  return { netFn: NET_FN.storage, command: FRU_COMMAND.readData, data };
}

export function decodeReadFruDataRequest(data: Uint8Array): ReadFruDataParams {
  requestData(data, 4, 'Read FRU Data');
  return { deviceId: data[0]!, offset: readU16(data, 1), count: data[3]! };
}

/** The data a Read FRU Data response carries (the count is in words when the area is accessed by words); a count past the bytes present is TRUNCATED. */
export function decodeReadFruData(data: Uint8Array, byWords = false): Uint8Array {
  responseData(data, 1, 'Read FRU Data');
  const count = data[0]! * (byWords ? 2 : 1);
  if (data.length - 1 < count) throw wireError('TRUNCATED', `Read FRU Data says ${count} bytes, carries ${data.length - 1}`, { have: data.length - 1, need: count });
  return data.slice(1, 1 + count);
}

export function encodeReadFruData(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

// Common header, FRU spec §8 (8 bytes):
// | format version (1: bits 3:0 = 1) | internal use offset | chassis info offset | board info offset |
// | product info offset | multirecord offset | pad (0) | zero checksum |
// Offsets are in multiples of 8 bytes from the start of the FRU; 0 = the area is not present.
export const FRU_HEADER_LENGTH = 8;

export interface FruCommonHeader {
  /** Byte offsets; absent when the header says the area is not present. */
  internalUse?: number;
  chassis?: number;
  board?: number;
  product?: number;
  multiRecord?: number;
}

const FORMAT_VERSION = 0x01;

export function decodeFruCommonHeader(bytes: Uint8Array): FruCommonHeader {
  if (bytes.length < FRU_HEADER_LENGTH) throw wireError('TRUNCATED', `FRU common header: ${bytes.length} bytes, need ${FRU_HEADER_LENGTH}`, { have: bytes.length, need: FRU_HEADER_LENGTH });
  const header = bytes.subarray(0, FRU_HEADER_LENGTH);
  // An erased EEPROM reads as 0xFF (sometimes 0x00): the board was never programmed, not a damaged FRU.
  if (header.every((byte) => byte === 0xff) || header.every((byte) => byte === 0)) throw wireError('FRU_UNPROGRAMMED', 'FRU common header is blank: the FRU was never programmed');
  if ((header[0]! & 0x0f) !== FORMAT_VERSION) throw wireError('BAD_FIELD', `FRU common header format version ${header[0]! & 0x0f}, expected ${FORMAT_VERSION}`, { field: 'formatVersion' });
  requireZeroChecksum(header, 'FRU common header');
  const offset = (index: number) => (header[index]! === 0 ? undefined : header[index]! * 8);
  const fields = { internalUse: offset(1), chassis: offset(2), board: offset(3), product: offset(4), multiRecord: offset(5) };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as FruCommonHeader;
}

// Chassis, board and product info areas all start | format version (1: bits 3:0 = 1) | area length (1, multiples of 8) |
// and end with | 0xC1 | pad 0x00 … | zero checksum (1) |, the checksum covering the whole area (FRU spec §10–§12).
export const FRU_AREA_PREAMBLE = 2;

/** The length in bytes of the area whose first two bytes are given. */
export function fruAreaLength(preamble: Uint8Array, what: string): number {
  if (preamble.length < FRU_AREA_PREAMBLE) throw wireError('TRUNCATED', `${what}: ${preamble.length} bytes, need ${FRU_AREA_PREAMBLE}`, { have: preamble.length, need: FRU_AREA_PREAMBLE });
  if ((preamble[0]! & 0x0f) !== FORMAT_VERSION) throw wireError('BAD_FIELD', `${what} format version ${preamble[0]! & 0x0f}, expected ${FORMAT_VERSION}`, { field: 'formatVersion' });
  if (preamble[1]! === 0) throw wireError('BAD_LENGTH', `${what} has length 0`);
  return preamble[1]! * 8;
}

// Chassis info area, FRU spec §10:
// | version | length | chassis type (1, SMBIOS type) | part number (type/length + bytes) | serial number (type/length + bytes) |
// | custom fields … | 0xC1 | pad | checksum |
export interface FruChassisInfo {
  type: number;
  partNumber?: string;
  serialNumber?: string;
  custom: string[];
}

export function decodeFruChassisArea(area: Uint8Array): FruChassisInfo {
  const fields = areaFields(area, 'FRU chassis info area', 3, ENGLISH, 2);
  const [partNumber, serialNumber] = fields.fixed;
  return { type: area[2]!, ...present({ partNumber, serialNumber }), custom: fields.custom };
}

// Board info area, FRU spec §11:
// | version | length | language code (1) | mfg date/time (3 LE, minutes since 1996-01-01 00:00 UTC; 0 = unspecified) |
// | manufacturer | product name | serial number | part number | FRU file ID | custom fields … | 0xC1 | pad | checksum |
export interface FruBoardInfo {
  language: number;
  /** ISO 8601; null when unspecified. */
  manufactured: string | null;
  manufacturer?: string;
  productName?: string;
  serialNumber?: string;
  partNumber?: string;
  fruFileId?: string;
  custom: string[];
}

/** 1996-01-01 00:00 UTC, the FRU spec's epoch for the board's manufacturing date (§11). */
const FRU_EPOCH_MS = Date.UTC(1996, 0, 1);

export function decodeFruBoardArea(area: Uint8Array): FruBoardInfo {
  const what = 'FRU board info area';
  const language = areaByte(area, 2, what);
  const fields = areaFields(area, what, 6, language, 5);
  const minutes = area[3]! | (area[4]! << 8) | (area[5]! << 16);
  const [manufacturer, productName, serialNumber, partNumber, fruFileId] = fields.fixed;
  return {
    language,
    manufactured: minutes === 0 ? null : new Date(FRU_EPOCH_MS + minutes * 60_000).toISOString(),
    ...present({ manufacturer, productName, serialNumber, partNumber, fruFileId }),
    custom: fields.custom,
  };
}

// Product info area, FRU spec §12:
// | version | length | language code (1) | manufacturer | product name | part/model number | version | serial number |
// | asset tag | FRU file ID | custom fields … | 0xC1 | pad | checksum |
export interface FruProductInfo {
  language: number;
  manufacturer?: string;
  productName?: string;
  partNumber?: string;
  version?: string;
  serialNumber?: string;
  assetTag?: string;
  fruFileId?: string;
  custom: string[];
}

export function decodeFruProductArea(area: Uint8Array): FruProductInfo {
  const what = 'FRU product info area';
  const language = areaByte(area, 2, what);
  const fields = areaFields(area, what, 3, language, 7);
  const [manufacturer, productName, partNumber, version, serialNumber, assetTag, fruFileId] = fields.fixed;
  return { language, ...present({ manufacturer, productName, partNumber, version, serialNumber, assetTag, fruFileId }), custom: fields.custom };
}

/** What a whole FRU image says; areas it does not have are absent. */
export interface FruInfo {
  chassis?: FruChassisInfo;
  board?: FruBoardInfo;
  product?: FruProductInfo;
}

export type FruAreaName = keyof FruInfo;

/** The areas decodeFru reads, with their header offset names and decoders. */
export const FRU_AREAS: readonly { name: FruAreaName; decode: (area: Uint8Array) => FruChassisInfo | FruBoardInfo | FruProductInfo }[] = [
  { name: 'chassis', decode: decodeFruChassisArea },
  { name: 'board', decode: decodeFruBoardArea },
  { name: 'product', decode: decodeFruProductArea },
];

/** Decodes a whole FRU image: the common header, then every info area it points to (an area past the image is BAD_OFFSET). */
export function decodeFru(image: Uint8Array): FruInfo {
  const header = decodeFruCommonHeader(image);
  const info: FruInfo = {};
  for (const { name, decode } of FRU_AREAS) {
    const offset = header[name];
    if (offset === undefined) continue;
    const what = `FRU ${name} info area`;
    if (offset + FRU_AREA_PREAMBLE > image.length) throw wireError('BAD_OFFSET', `${what} at ${offset} is past the end of the ${image.length}-byte FRU`, { offset, size: image.length });
    const length = fruAreaLength(image.subarray(offset, offset + FRU_AREA_PREAMBLE), what);
    if (offset + length > image.length) throw wireError('TRUNCATED', `${what} of ${length} bytes at ${offset} runs past the end of the ${image.length}-byte FRU`, { have: image.length - offset, need: length });
    (info as Record<FruAreaName, unknown>)[name] = decode(image.subarray(offset, offset + length));
  }
  return info;
}

// Type/length byte, FRU spec §13: | type (bits 7:6) | length in bytes (bits 5:0) |
// type 00 binary or unspecified, 01 BCD plus, 10 6-bit packed ASCII, 11 interpreted by the area's language code:
// English (0 or 25) 8-bit ASCII + Latin-1, any other 2-byte Unicode (UCS-2, least significant byte first).
// 0xC1 ends the fields; a field of length 0 is present but empty (we report it as absent).
const END_OF_FIELDS = 0xc1;
const ENGLISH = 0;
const ENGLISH_CODES: ReadonlySet<number> = new Set([0, 25]);
/** BCD plus digits (§13.1): 0–9, then space, dash, period; 0xD–0xF are reserved. */
const BCD_PLUS = '0123456789 -.???';

/** Decodes one type/length-prefixed field's bytes as text. */
export function fruFieldText(typeLength: number, bytes: Uint8Array, language: number): string {
  switch (typeLength >> 6) {
    case 0:
      return toHex(bytes);
    case 1: {
      let out = '';
      for (const byte of bytes) out += BCD_PLUS[byte >> 4]! + BCD_PLUS[byte & 0x0f]!;
      return out;
    }
    case 2:
      return sixBitAscii(bytes, bytes.length);
    default:
      if (ENGLISH_CODES.has(language)) return new TextDecoder('latin1').decode(bytes).replace(/\0+$/, '').trimEnd();
      return new TextDecoder('utf-16le').decode(bytes.subarray(0, bytes.length - (bytes.length % 2))).replace(/\0+$/, '');
  }
}

/**
 * The fields of an info area from `start`: `count` fixed fields, then custom fields until 0xC1. A field that runs
 * past the area is TRUNCATED; an area that ends its fields early (0xC1 before the fixed ones, or no 0xC1 before
 * the checksum byte) is read as far as it goes, as ipmitool and FreeIPMI do, since real FRUs omit the marker.
 */
function areaFields(area: Uint8Array, what: string, start: number, language: number, count: number): { fixed: (string | undefined)[]; custom: string[] } {
  const length = fruAreaLength(area, what);
  if (area.length < length) throw wireError('TRUNCATED', `${what}: ${area.length} bytes, need ${length}`, { have: area.length, need: length });
  const body = area.subarray(0, length);
  requireZeroChecksum(body, what);
  const end = length - 1; // the checksum byte
  if (start > end) throw wireError('TRUNCATED', `${what} of ${length} bytes is too short for its fixed fields`, { have: length, need: start + 1 });
  const fixed: (string | undefined)[] = [];
  const custom: string[] = [];
  let position = start;
  while (position < end && body[position] !== END_OF_FIELDS) {
    const typeLength = body[position]!;
    const fieldEnd = position + 1 + (typeLength & 0x3f);
    if (fieldEnd > end) throw wireError('TRUNCATED', `${what}: a ${typeLength & 0x3f}-byte field at ${position} runs past the area's end at ${end}`, { have: end - position - 1, need: typeLength & 0x3f });
    const text = (typeLength & 0x3f) === 0 ? undefined : fruFieldText(typeLength, body.subarray(position + 1, fieldEnd), language);
    if (fixed.length < count) fixed.push(text === '' ? undefined : text);
    else if (text !== undefined && text !== '') custom.push(text);
    position = fieldEnd;
  }
  return { fixed, custom };
}

function areaByte(area: Uint8Array, index: number, what: string): number {
  if (area.length <= index) throw wireError('TRUNCATED', `${what}: ${area.length} bytes, need ${index + 1}`, { have: area.length, need: index + 1 });
  return area[index]!;
}

/** FRU spec §8, §10–§12: the bytes, checksum included, sum to 0 modulo 256. */
function requireZeroChecksum(bytes: Uint8Array, what: string): void {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xff;
  if (sum !== 0) throw wireError('BAD_CHECKSUM', `${what} checksum does not sum to zero (sum ${sum})`, { sum });
}

function present<T extends Record<string, string | undefined>>(fields: T): Partial<Record<keyof T, string>> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<Record<keyof T, string>>;
}

/** Text fields for the BMC role (bmcsim): each 8-bit ASCII + Latin-1, at most 63 characters. */
export interface FruImageFields {
  chassis?: { type: number; partNumber?: string; serialNumber?: string };
  board?: { manufactured?: Date; manufacturer?: string; productName?: string; serialNumber?: string; partNumber?: string };
  product?: { manufacturer?: string; productName?: string; partNumber?: string; version?: string; serialNumber?: string; assetTag?: string };
}

/** A FRU image (common header + the areas given), for a simulated BMC to serve. */
export function encodeFru(fields: FruImageFields): Uint8Array {
  const areas: { index: number; bytes: Uint8Array }[] = [];
  if (fields.chassis) areas.push({ index: 2, bytes: encodeArea([fields.chassis.type], [fields.chassis.partNumber, fields.chassis.serialNumber]) });
  if (fields.board) {
    const minutes = fields.board.manufactured ? Math.max(0, Math.floor((fields.board.manufactured.getTime() - FRU_EPOCH_MS) / 60_000)) : 0;
    const board = fields.board;
    areas.push({ index: 3, bytes: encodeArea([ENGLISH, minutes & 0xff, (minutes >> 8) & 0xff, (minutes >> 16) & 0xff], [board.manufacturer, board.productName, board.serialNumber, board.partNumber, undefined]) });
  }
  if (fields.product) {
    const product = fields.product;
    areas.push({ index: 4, bytes: encodeArea([ENGLISH], [product.manufacturer, product.productName, product.partNumber, product.version, product.serialNumber, product.assetTag, undefined]) });
  }
  const header = new Uint8Array(FRU_HEADER_LENGTH);
  header[0] = FORMAT_VERSION;
  let offset = FRU_HEADER_LENGTH;
  for (const area of areas) {
    header[area.index] = offset / 8;
    offset += area.bytes.length;
  }
  header[7] = checksum(header.subarray(0, 7));
  const image = new Uint8Array(offset);
  image.set(header);
  offset = FRU_HEADER_LENGTH;
  for (const area of areas) {
    image.set(area.bytes, offset);
    offset += area.bytes.length;
  }
  return image;
}

function encodeArea(fixedBytes: readonly number[], fields: readonly (string | undefined)[]): Uint8Array {
  const body: number[] = [FORMAT_VERSION, 0, ...fixedBytes];
  for (const field of fields) {
    // A one-byte 8-bit field would be 0xC1, the end marker (§13): pad it to two (decoders trim the space).
    const text = field?.length === 1 ? `${field} ` : (field ?? '');
    const bytes = Uint8Array.from(text.slice(0, 63), (char) => char.charCodeAt(0) & 0xff);
    body.push(0xc0 | bytes.length, ...bytes);
  }
  body.push(END_OF_FIELDS);
  while ((body.length + 1) % 8 !== 0) body.push(0);
  body.push(0);
  body[1] = body.length / 8;
  const out = Uint8Array.from(body);
  out[out.length - 1] = checksum(out.subarray(0, out.length - 1));
  return out;
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xff;
  return (0x100 - sum) & 0xff;
}
