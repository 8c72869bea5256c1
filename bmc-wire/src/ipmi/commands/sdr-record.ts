import { readU16, requireLength } from '../bytes.js';
import { wireError } from '../errors.js';
import { baseUnitName, sensorTypeName } from './sensor-names.js';

// SDR records, IPMI v2.0 §43. Every record starts with the 5-byte header (§43.0):
// | record ID (2 LE) | SDR version (1) | record type (1) | record length (1, bytes after the header) |
export const SDR_HEADER_LENGTH = 5;

export interface SdrHeader {
  recordId: number;
  version: number;
  recordType: number;
  /** Bytes after the header. */
  length: number;
}

export function decodeSdrHeader(bytes: Uint8Array): SdrHeader {
  requireLength(bytes, SDR_HEADER_LENGTH, 'SDR header');
  return { recordId: readU16(bytes, 0), version: bytes[2]!, recordType: bytes[3]!, length: bytes[4]! };
}

/** Sensor unit conversion factors of a full sensor record, §36.3 and §43.1 bytes 21–30. */
export interface Conversion {
  /** 0 unsigned, 1 one's complement, 2 two's complement, 3 no analog reading. */
  analogFormat: number;
  linearization: number;
  m: number;
  b: number;
  bExponent: number;
  rExponent: number;
}

/** Threshold names in the order of the readable-threshold mask's bits 0–5 (§43.1 byte 20). */
export const THRESHOLD_NAMES = ['lowerNonCritical', 'lowerCritical', 'lowerNonRecoverable', 'upperNonCritical', 'upperCritical', 'upperNonRecoverable'] as const;
export type ThresholdName = (typeof THRESHOLD_NAMES)[number];

// The raw threshold bytes of a full record, §43.1 bytes 37–42 (0-based 36–41): | UNR | UC | UNC | LNR | LC | LNC |
const THRESHOLD_OFFSETS: Record<ThresholdName, number> = { upperNonRecoverable: 36, upperCritical: 37, upperNonCritical: 38, lowerNonRecoverable: 39, lowerCritical: 40, lowerNonCritical: 41 };

export type SdrRecord =
  | { kind: 'full'; recordId: number; ownerId: number; ownerLun: number; sensorNumber: number; entityId: number; entityInstance: number; sensorType: number; sensorTypeName: string; eventReadingType: number; unit: string; percentage: boolean; conversion: Conversion; name: string; thresholdsRaw: Partial<Record<ThresholdName, number>> }
  | { kind: 'compact'; recordId: number; ownerId: number; ownerLun: number; sensorNumber: number; entityId: number; entityInstance: number; sensorType: number; sensorTypeName: string; eventReadingType: number; unit: string; name: string }
  | { kind: 'event-only'; recordId: number; ownerId: number; ownerLun: number; sensorNumber: number; entityId: number; entityInstance: number; sensorType: number; sensorTypeName: string; eventReadingType: number; name: string }
  | { kind: 'mc-locator'; recordId: number; slaveAddress: number; channel: number; entityId: number; entityInstance: number; name: string }
  | { kind: 'unknown'; recordId: number; recordType: number };

/** Decodes one whole record (header + body). Unknown record types decode to `kind: 'unknown'`. */
export function decodeSdrRecord(bytes: Uint8Array): SdrRecord {
  const header = decodeSdrHeader(bytes);
  requireLength(bytes, SDR_HEADER_LENGTH + header.length, `SDR record ${header.recordId}`);
  const record = bytes.subarray(0, SDR_HEADER_LENGTH + header.length);
  const key = () => ({ recordId: header.recordId, ownerId: record[5]!, ownerLun: record[6]! & 0x03, sensorNumber: record[7]! });
  switch (header.recordType) {
    // Full sensor record, §43.1 (0-based offsets): 8 entity, 9 instance, 12 sensor type, 13 event/reading type,
    // 20 units 1, 21 base unit, 23 linearization, 24–25 M, 26–27 B, 29 R/B exponents, 47 ID type/length, 48 ID string.
    case 0x01: {
      requireLength(record, 48, 'full sensor record');
      const units1 = record[20]!;
      return {
        kind: 'full',
        ...key(),
        entityId: record[8]!,
        entityInstance: record[9]! & 0x7f,
        sensorType: record[12]!,
        sensorTypeName: sensorTypeName(record[12]!),
        eventReadingType: record[13]!,
        unit: baseUnitName(record[21]!),
        percentage: (units1 & 0x01) !== 0,
        conversion: {
          analogFormat: units1 >> 6,
          linearization: record[23]! & 0x7f,
          m: signed(record[24]! | ((record[25]! & 0xc0) << 2), 10),
          b: signed(record[26]! | ((record[27]! & 0xc0) << 2), 10),
          rExponent: signed(record[29]! >> 4, 4),
          bExponent: signed(record[29]! & 0x0f, 4),
        },
        name: idString(record, 47),
        thresholdsRaw: record[13] === 0x01 ? readableThresholds(record) : {},
      };
    }
    // Compact sensor record, §43.2: same key/entity/type layout, 21 base unit, 31 ID type/length, 32 ID string.
    case 0x02:
      requireLength(record, 32, 'compact sensor record');
      return { kind: 'compact', ...key(), entityId: record[8]!, entityInstance: record[9]! & 0x7f, sensorType: record[12]!, sensorTypeName: sensorTypeName(record[12]!), eventReadingType: record[13]!, unit: baseUnitName(record[21]!), name: idString(record, 31) };
    // Event-only record, §43.3: 8 entity, 9 instance, 10 sensor type, 11 event/reading type, 16 ID type/length, 17 ID.
    case 0x03:
      requireLength(record, 17, 'event-only record');
      return { kind: 'event-only', ...key(), entityId: record[8]!, entityInstance: record[9]! & 0x7f, sensorType: record[10]!, sensorTypeName: sensorTypeName(record[10]!), eventReadingType: record[11]!, name: idString(record, 16) };
    // Management controller device locator, §43.9: 5 slave address, 6 channel, 12 entity, 13 instance, 15 ID type/length, 16 ID.
    case 0x12:
      requireLength(record, 16, 'MC device locator record');
      return { kind: 'mc-locator', recordId: header.recordId, slaveAddress: record[5]!, channel: record[6]! & 0x0f, entityId: record[12]!, entityInstance: record[13]! & 0x7f, name: idString(record, 15) };
    default:
      return { kind: 'unknown', recordId: header.recordId, recordType: header.recordType };
  }
}

/**
 * Raw reading → value, §36.3: y = L[(M·x + B·10^Bexp) · 10^Rexp]. Returns null
 * for sensors without an analog reading or for non-finite results.
 */
export function convertReading(raw: number, conversion: Conversion): number | null {
  let x: number;
  switch (conversion.analogFormat) {
    case 0: x = raw & 0xff; break;
    case 1: x = raw & 0x80 ? -((~raw) & 0x7f) : raw & 0x7f; break;
    case 2: x = signed(raw & 0xff, 8); break;
    default: return null;
  }
  const linear = (conversion.m * x + conversion.b * 10 ** conversion.bExponent) * 10 ** conversion.rExponent;
  const value = LINEARIZATION[conversion.linearization]?.(linear);
  if (value === undefined) throw wireError('BAD_FIELD', `linearization ${conversion.linearization}`);
  return Number.isFinite(value) ? Number(value.toPrecision(12)) : null;
}

/** Linearization functions, §43.1 byte 24 (0x00 linear … 0x0B cube⁻¹). Non-linear 0x70–0x7F is not a formula: unsupported. */
const LINEARIZATION: Record<number, (value: number) => number> = {
  0x00: (value) => value,
  0x01: Math.log,
  0x02: Math.log10,
  0x03: Math.log2,
  0x04: Math.exp,
  0x05: (value) => 10 ** value,
  0x06: (value) => 2 ** value,
  0x07: (value) => 1 / value,
  0x08: (value) => value * value,
  0x09: (value) => value * value * value,
  0x0a: Math.sqrt,
  0x0b: Math.cbrt,
};

/**
 * The thresholds a threshold sensor's full record says are readable (§43.1
 * byte 19, the readable mask's bits 5:0 = UNR, UC, UNC, LNR, LC, LNC), raw:
 * convertReading turns each into the sensor's unit like a reading.
 */
function readableThresholds(record: Uint8Array): Partial<Record<ThresholdName, number>> {
  const readable = record[18]! & 0x3f;
  const thresholds: Partial<Record<ThresholdName, number>> = {};
  THRESHOLD_NAMES.forEach((name, bit) => {
    if (readable & (1 << bit)) thresholds[name] = record[THRESHOLD_OFFSETS[name]]!;
  });
  return thresholds;
}

function signed(value: number, bits: number): number {
  const sign = 1 << (bits - 1);
  return value & sign ? value - (1 << bits) : value;
}

/** ID string, §43.15: | type/length (1: bits 7:6 type, 4:0 length) | bytes |. Type 3 = 8-bit ASCII+Latin1; others read as Latin-1. */
function idString(record: Uint8Array, offset: number): string {
  const typeLength = record[offset]!;
  const length = typeLength & 0x1f;
  const start = offset + 1;
  const end = Math.min(record.length, start + length);
  if ((typeLength >> 6) === 2) return sixBitAscii(record.subarray(start, end), length);
  return new TextDecoder('latin1').decode(record.subarray(start, end)).replace(/\0+$/, '');
}

/** 6-bit packed ASCII (§43.15, FRU spec §13): four characters per three bytes, offset from 0x20. */
export function sixBitAscii(bytes: Uint8Array, length: number): string {
  let bits = 0;
  let bitCount = 0;
  let out = '';
  for (const byte of bytes.subarray(0, length)) {
    bits |= byte << bitCount;
    bitCount += 8;
    while (bitCount >= 6) {
      out += String.fromCharCode((bits & 0x3f) + 0x20);
      bits >>= 6;
      bitCount -= 6;
    }
  }
  return out.trimEnd();
}
