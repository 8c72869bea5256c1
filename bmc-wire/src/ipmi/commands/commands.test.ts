import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../bytes.js';
import { decodesOrRefuses } from '../../testing/index.js';
import { decodeCipherSuiteRecords, decodeChannelAuthCapabilities, decodeDeviceId, decodePayloadActivation, decodeSessionInfo, decodeSystemGuid, encodeChannelAuthCapabilities, encodeCipherSuiteRecords, encodeSessionInfo, encodeSystemGuid } from './app.js';
import { decodeBootFlags, decodeChassisStatus, encodeBootFlags, encodeChassisStatus, type BootFlags } from './chassis.js';
import { convertReading, decodeSdrRecord } from './sdr-record.js';
import { decodeSelRecord } from './sel.js';
import { decodeSensorReading, encodeSensorReading, thresholdStatus } from './sensor-reading.js';

describe('SDR records (§43) and conversion (§36.3)', () => {
  // The lab's compact record as OpenIPMI's sdrcomp writes it: ID string in 6-bit packed ASCII.
  const compact = fromHex('040051022120000220010000256f000000000000c0000000000000000000008764dab6401801');
  const full = fromHex('03005101352000010701450001010000000000000001000001000001010000000000ff000000000000000000000000ca426f6172642054656d70');

  it('decodes full, compact, event-only and MC locator records from sdrcomp output', () => {
    expect(decodeSdrRecord(full)).toMatchObject({ kind: 'full', sensorNumber: 1, sensorType: 1, name: 'Board Temp', unit: 'degrees C', conversion: { m: 1, b: 0, rExponent: 0, bExponent: 0, linearization: 0 } });
    expect(decodeSdrRecord(compact)).toMatchObject({ kind: 'compact', sensorNumber: 2, sensorType: 0x25, name: 'DIMM A1' });
    expect(decodeSdrRecord(fromHex('02005103142000000701236f00000000c85761746368646f67'))).toMatchObject({ kind: 'event-only', name: 'Watchdog', sensorType: 0x23 });
    expect(decodeSdrRecord(fromHex('010051121c20000087000000070100d16c69676874736f7574206c616220424d43'))).toMatchObject({ kind: 'mc-locator', slaveAddress: 0x20, name: 'lightsout lab BMC' });
    expect(decodeSdrRecord(fromHex('0500510c00'))).toEqual({ kind: 'unknown', recordId: 5, recordType: 0x0c });
  });

  it('reads the thresholds the readable mask names, raw, from a threshold sensor\'s full record', () => {
    expect(decodeSdrRecord(full)).toMatchObject({ thresholdsRaw: {} });
    const withThresholds = fromHex('03005101352000010701450001010000000000000001000001000001010000000000ff000000000000000000000000ca426f6172642054656d70');
    withThresholds[18] = 0x12; // lower critical (bit 1), upper critical (bit 4)
    withThresholds[37] = 90;
    withThresholds[40] = 5;
    withThresholds[36] = 99; // upper non-recoverable: not readable, left out
    expect(decodeSdrRecord(withThresholds)).toMatchObject({ thresholdsRaw: { upperCritical: 90, lowerCritical: 5 } });
    expect(Object.keys((decodeSdrRecord(withThresholds) as { thresholdsRaw: object }).thresholdsRaw)).toHaveLength(2);
  });

  it('converts with signed M, B and exponents', () => {
    // M = 2, B = -3 × 10^1, R exponent -1: y = (2x − 30) / 10
    expect(convertReading(100, { analogFormat: 0, linearization: 0, m: 2, b: -3, bExponent: 1, rExponent: -1 })).toBe(17);
    // two's complement raw reading
    expect(convertReading(0xfe, { analogFormat: 2, linearization: 0, m: 1, b: 0, bExponent: 0, rExponent: 0 })).toBe(-2);
    expect(convertReading(0xfe, { analogFormat: 1, linearization: 0, m: 1, b: 0, bExponent: 0, rExponent: 0 })).toBe(-1);
    expect(convertReading(10, { analogFormat: 3, linearization: 0, m: 1, b: 0, bExponent: 0, rExponent: 0 })).toBeNull();
    expect(convertReading(4, { analogFormat: 0, linearization: 0x0a, m: 1, b: 0, bExponent: 0, rExponent: 0 })).toBe(2);
  });

  it('refuses truncated records and survives any bytes', () => {
    expect(() => decodeSdrRecord(full.subarray(0, 30))).toThrow();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => decodesOrRefuses(decodeSdrRecord, bytes)));
    fc.assert(fc.property(fc.constantFrom(1, 2, 3, 0x12), fc.uint8Array({ minLength: 60, maxLength: 80 }), (type, body) => {
      const record = Uint8Array.of(1, 0, 0x51, type, body.length, ...body);
      decodesOrRefuses(decodeSdrRecord, record);
    }));
  });
});

describe('SEL records (§32) with event text (§42)', () => {
  it('decodes a threshold event, a sensor-specific one and OEM records', () => {
    expect(decodeSelRecord(fromHex('01000242050000200004010101577270'))).toMatchObject({ id: 1, time: null, sensorType: 1, sensorNumber: 1, event: 'Upper Non-critical going high', direction: 'asserted', sensor: 'temperature' });
    expect(decodeSelRecord(fromHex('02000200b955692000040901ef000000'))).toMatchObject({ event: 'Power off/down', direction: 'deasserted', time: '2026-01-01T00:00:00.000Z' });
    expect(decodeSelRecord(fromHex('0300e0000102030405060708090a0b0c'))).toMatchObject({ event: 'OEM record', time: null });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => decodesOrRefuses(decodeSelRecord, bytes)));
  });
});

describe('app, chassis and sensor codecs', () => {
  it('round-trips chassis status, boot flags, sensor readings and cipher suite records', () => {
    expect(decodeChassisStatus(encodeChassisStatus({ powerOn: true, restorePolicy: 'previous' }))).toMatchObject({ powerOn: true, restorePolicy: 'previous' });
    fc.assert(fc.property(fc.record<BootFlags>({ valid: fc.boolean(), persistent: fc.boolean(), efi: fc.boolean(), device: fc.constantFrom('none', 'pxe', 'disk', 'disk-safe', 'diagnostic', 'cd', 'bios', 'floppy') }), (flags) => {
      expect(decodeBootFlags(encodeBootFlags(flags))).toEqual(flags);
    }));
    const reading = { raw: 0x60, eventsEnabled: true, scanningEnabled: true, unavailable: false, state: 0x12 };
    expect(decodeSensorReading(encodeSensorReading(reading))).toEqual(reading);
    expect(thresholdStatus(0x12)).toBe('critical');
    const suites = [{ id: 3, authentication: 1, integrity: [1], confidentiality: [1] }, { id: 17, authentication: 3, integrity: [4], confidentiality: [1] }];
    expect(decodeCipherSuiteRecords(encodeCipherSuiteRecords(suites))).toEqual(suites);
  });

  it('decodes Get Device ID, auth capabilities and activate payload, and survives hostile bytes', () => {
    expect(decodeDeviceId(fromHex('2101020502 9fa1b7004200'.replace(' ', '')))).toMatchObject({ deviceId: 0x21, firmware: '2.05', ipmiVersion: '2.0', manufacturerId: 0xb7a1, productId: 0x42 });
    const caps = decodeChannelAuthCapabilities(fromHex('0196040300000000'));
    expect(caps).toMatchObject({ ipmi20: true, ipmi15: true, authTypes: { md5: true, straight: true, none: false } });
    expect(decodeChannelAuthCapabilities(encodeChannelAuthCapabilities(caps, true))).toEqual(caps);
    expect(decodePayloadActivation(fromHex('000000002000004000a3ffff'))).toEqual({ inboundSize: 32, outboundSize: 0x4000, port: 0xa300, vlan: 0xffff });
    for (const decode of [decodeDeviceId, decodeChannelAuthCapabilities, decodePayloadActivation, decodeCipherSuiteRecords, decodeChassisStatus, decodeBootFlags, decodeSensorReading, decodeSessionInfo]) {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => decodesOrRefuses(decode, bytes)), { numRuns: 200 });
    }
  });

  it('round-trips Get Session Info, with and without a session found (§22.20)', () => {
    const found = { handle: 2, possibleSessions: 32, activeSessions: 3, session: { userId: 2, privilege: 4, rmcpPlus: true, channel: 1, address: '10.1.2.3', port: 0xa1b2 } };
    const bytes = encodeSessionInfo(found);
    expect(bytes).toHaveLength(18);
    expect([...bytes.subarray(16)]).toEqual([0xa1, 0xb2]);
    expect(decodeSessionInfo(bytes)).toEqual(found);
    expect(decodeSessionInfo(encodeSessionInfo({ handle: 0, possibleSessions: 32, activeSessions: 0 }))).toEqual({ handle: 0, possibleSessions: 32, activeSessions: 0 });
  });
});

describe('Get System GUID (§22.14)', () => {
  it('reads the 16 bytes least significant first into the usual text form', () => {
    const wire = fromHex('ffeeddccbbaa99887766554433221100');
    expect(decodeSystemGuid(wire)).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(encodeSystemGuid('00112233-4455-6677-8899-aabbccddeeff')).toEqual(wire);
  });

  it('round-trips any GUID and refuses a short answer', () => {
    fc.assert(fc.property(fc.uuid(), (guid) => decodeSystemGuid(encodeSystemGuid(guid)) === guid));
    expect(() => decodeSystemGuid(new Uint8Array(15))).toThrow();
    expect(() => encodeSystemGuid('not-a-guid')).toThrow();
  });
});
