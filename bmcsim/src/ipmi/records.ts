import { SENSORS, type SensorDefinition } from '../bmc/sensors.js';
import type { LogEntry } from '../bmc/event-log.js';

/**
 * BMC-side encoders for the records a BMC serves and a client only decodes:
 * SDR full sensor records (IPMI v2.0 §43.1) and SEL system event records
 * (§32.1). @lightsout/bmc-wire/ipmi decodes them; bmcsim builds them here.
 */

const SENSOR_TYPE: Record<SensorDefinition['kind'], number> = { temperature: 0x01, voltage: 0x02, fan: 0x04 };
/** Base unit codes, §43.17 table 43-15: 1 °C, 4 volts, 18 RPM. */
const BASE_UNIT: Record<SensorDefinition['unit'], number> = { 'degrees C': 1, Volts: 4, RPM: 18 };
/** Entity IDs, §43.14: 0x03 processor, 0x07 system board, 0x1D fan device. */
const ENTITY: Record<SensorDefinition['kind'], number> = { temperature: 0x03, voltage: 0x07, fan: 0x1d };

/** value = M × raw × 10^R with integer M (10-bit signed) — the SDR conversion of `multiplier`. */
export function conversionOf(sensor: SensorDefinition): { m: number; rExponent: number } {
  for (let rExponent = 0; rExponent >= -4; rExponent--) {
    const m = sensor.multiplier / 10 ** rExponent;
    if (Math.abs(m - Math.round(m)) < 1e-9 && Math.round(m) <= 511) return { m: Math.round(m), rExponent };
  }
  throw new RangeError(`sensor ${sensor.name}: multiplier ${sensor.multiplier} has no SDR conversion`);
}

// Full sensor record, §43.1 (0-based): | record ID (2 LE) | SDR version 0x51 | type 0x01 | length |
// | owner ID | owner LUN | sensor number | entity ID | entity instance | initialization | capabilities |
// | sensor type | event/reading type | assertion mask (2) | deassertion mask (2) | reading mask (2) |
// | units 1 | base unit | modifier unit | linearization | M (8 LS) | M (2 MS) ‖ tolerance | B (8 LS) | B (2 MS) ‖ accuracy |
// | accuracy ‖ exponent ‖ direction | R exp (4) ‖ B exp (4) | analog flags | nominal | normal max | normal min |
// | sensor max | sensor min | UNR | UC | UNC | LNR | LC | LNC | hysteresis + | hysteresis − | reserved (2) | OEM |
// | ID type/length | ID string |
export function encodeFullSensorRecord(recordId: number, sensor: SensorDefinition): Uint8Array {
  const name = new TextEncoder().encode(sensor.name).subarray(0, 16);
  const record = new Uint8Array(48 + name.length);
  const { m, rExponent } = conversionOf(sensor);
  const raw = (value: number) => Math.max(0, Math.min(255, Math.round(value / sensor.multiplier)));
  record[0] = recordId & 0xff;
  record[1] = recordId >> 8;
  record[2] = 0x51;
  record[3] = 0x01;
  record[4] = record.length - 5;
  record[5] = 0x20; // owned by the BMC itself
  record[7] = sensor.number;
  record[8] = ENTITY[sensor.kind];
  record[9] = 0x01;
  record[10] = 0x7f; // scanning + events enabled, thresholds/hysteresis/type initialised
  record[11] = 0x44; // auto re-arm; thresholds readable (bits 3:2 = 01)
  record[12] = SENSOR_TYPE[sensor.kind];
  record[13] = 0x01; // threshold-based
  record[18] = 0x12; // readable thresholds: lower critical (bit 1), upper critical (bit 4)
  record[20] = 0x00; // unsigned analog readings
  record[21] = BASE_UNIT[sensor.unit];
  record[24] = m & 0xff;
  record[25] = (m >> 2) & 0xc0;
  record[29] = (rExponent & 0x0f) << 4;
  record[31] = raw(sensor.nominal);
  record[34] = 0xff;
  record[37] = raw(sensor.upperCritical);
  record[40] = raw(sensor.lowerCritical);
  record[47] = 0xc0 | name.length;
  record.set(name, 48);
  return record;
}

/** A sensor that only generates events (no reading): what the SEL entries below refer to. */
interface EventOnlySensor {
  number: number;
  name: string;
  sensorType: number;
  entity: number;
}

// Sensor numbers of the SEL events below, each described by an event-only SDR so that clients can name them.
const EVENT_SENSORS: readonly EventOnlySensor[] = [
  { number: 0x30, name: 'Power Unit', sensorType: 0x09, entity: 0x13 }, // entity: power unit
  { number: 0x31, name: 'ACPI State', sensorType: 0x22, entity: 0x07 }, // entity: system board
  { number: 0x32, name: 'System Boot', sensorType: 0x1d, entity: 0x07 },
  { number: 0x33, name: 'Event Log', sensorType: 0x10, entity: 0x07 },
];

// Event-only sensor record, §43.3 (0-based): | record ID (2 LE) | SDR version 0x51 | type 0x03 | length |
// | owner ID | owner LUN | sensor number | entity ID | entity instance | sensor type | event/reading type |
// | direction, share count (1) | entity instance sharing (1) | reserved | OEM | ID type/length | ID string |
export function encodeEventOnlyRecord(recordId: number, sensor: EventOnlySensor): Uint8Array {
  const name = new TextEncoder().encode(sensor.name).subarray(0, 16);
  const record = new Uint8Array(17 + name.length);
  record[0] = recordId & 0xff;
  record[1] = recordId >> 8;
  record[2] = 0x51;
  record[3] = 0x03;
  record[4] = record.length - 5;
  record[5] = 0x20;
  record[7] = sensor.number;
  record[8] = sensor.entity;
  record[9] = 0x01;
  record[10] = sensor.sensorType;
  record[11] = 0x6f; // sensor-specific
  record[16] = 0xc0 | name.length;
  record.set(name, 17);
  return record;
}

/** The whole SDR repository, record IDs 1…n: the readable sensors, then the event-only ones. */
export function sdrRepository(): readonly Uint8Array[] {
  return [
    ...SENSORS.map((sensor, index) => encodeFullSensorRecord(index + 1, sensor)),
    ...EVENT_SENSORS.map((sensor, index) => encodeEventOnlyRecord(SENSORS.length + index + 1, sensor)),
  ];
}

// SEL system event record, §32.1: | record ID (2 LE) | type 0x02 | timestamp (4 LE) | generator ID (2 LE: 0x20 = BMC) |
// | EvM revision 0x04 | sensor type | sensor number | event dir/type | event data 1–3 |
const SEL_EVENTS: Record<Exclude<LogEntry['event'], 'platform'>, { sensorType: number; sensorNumber: number; offset: number }> = {
  // Power Unit (0x09) offset 0 "Power off/down", offset 1 "Power cycle" (§42.2 table 42-3).
  'power-off': { sensorType: 0x09, sensorNumber: 0x30, offset: 0x00 },
  'power-cycle': { sensorType: 0x09, sensorNumber: 0x30, offset: 0x01 },
  // System ACPI Power State (0x22): offset 0 "S0/G0 working", 5 "S5/G2 soft-off".
  'power-on': { sensorType: 0x22, sensorNumber: 0x31, offset: 0x00 },
  'soft-off': { sensorType: 0x22, sensorNumber: 0x31, offset: 0x05 },
  // System Boot / Restart Initiated (0x1D): offset 2 "Warm reset".
  reset: { sensorType: 0x1d, sensorNumber: 0x32, offset: 0x02 },
  // Event Logging Disabled (0x10): offset 2 "Log area reset/cleared".
  'log-cleared': { sensorType: 0x10, sensorNumber: 0x33, offset: 0x02 },
};

export function encodeSelRecord(entry: LogEntry): Uint8Array {
  // A platform event is logged with the fields it was sent with; the BMC's own events use the table above.
  const own = entry.platform ? undefined : SEL_EVENTS[entry.event as Exclude<LogEntry['event'], 'platform'>];
  const event = entry.platform ?? { sensorType: own!.sensorType, sensorNumber: own!.sensorNumber, eventDirType: 0x6f, data: [own!.offset, 0xff, 0xff] };
  const record = new Uint8Array(16);
  record[0] = entry.id & 0xff;
  record[1] = (entry.id >> 8) & 0xff;
  record[2] = 0x02;
  record[3] = entry.timestamp & 0xff;
  record[4] = (entry.timestamp >>> 8) & 0xff;
  record[5] = (entry.timestamp >>> 16) & 0xff;
  record[6] = (entry.timestamp >>> 24) & 0xff;
  record[7] = 0x20;
  record[9] = 0x04;
  record[10] = event.sensorType;
  record[11] = event.sensorNumber;
  record[12] = event.eventDirType; // 0x6f: assertion, sensor-specific event type
  record[13] = event.data[0];
  record[14] = event.data[1];
  record[15] = event.data[2];
  return record;
}
