import type { Sensor, SensorThresholds } from '@lightsout/shared';
import type { RedfishClient } from './client.js';
import { type JsonObject, arrayAt, inlineMembers, isJsonObject, linkAt, memberLinks, numberAt, objectAt, stringAt } from './json.js';

/**
 * Readings from each chassis: the Sensors collection (Chassis v1.9+, DSP2046
 * Sensor) when present, else the older Thermal and Power resources.
 */
const MAX_SENSORS = 256;

export async function readSensors(client: RedfishClient, chassisPaths: readonly string[]): Promise<Sensor[]> {
  const sensors: Sensor[] = [];
  for (const chassisPath of chassisPaths) {
    const chassis = (await client.get(chassisPath)).body;
    const sensorsPath = linkAt(chassis, 'Sensors');
    if (sensorsPath) {
      sensors.push(...(await fromSensorCollection(client, sensorsPath)));
    } else {
      const thermalPath = linkAt(chassis, 'Thermal');
      if (thermalPath) sensors.push(...fromThermal((await client.get(thermalPath)).body));
      const powerPath = linkAt(chassis, 'Power');
      if (powerPath) sensors.push(...fromPower((await client.get(powerPath)).body));
    }
    if (sensors.length >= MAX_SENSORS) break;
  }
  return sensors.slice(0, MAX_SENSORS);
}

async function fromSensorCollection(client: RedfishClient, path: string): Promise<Sensor[]> {
  const collection = (await client.get(path)).body;
  const expanded = inlineMembers(collection).filter((member) => 'Reading' in member);
  const members = expanded.length > 0 ? expanded : [];
  if (members.length === 0) {
    for (const memberPath of memberLinks(collection).slice(0, MAX_SENSORS)) members.push((await client.get(memberPath)).body);
  }
  return members.map((member) => ({
    name: stringAt(member, 'Name') ?? stringAt(member, 'Id') ?? '?',
    type: typeOfReading(stringAt(member, 'ReadingType')) ?? typeOfUnits(stringAt(member, 'ReadingUnits')),
    value: numberAt(member, 'Reading') ?? null,
    unit: stringAt(member, 'ReadingUnits') ?? '',
    status: statusOf(member),
    ...withThresholds(sensorThresholds(member)),
  }));
}

export function fromThermal(thermal: JsonObject): Sensor[] {
  const temperatures = arrayAt(thermal, 'Temperatures').filter(isJsonObject).map((entry) => ({
    name: stringAt(entry, 'Name') ?? '?',
    type: 'temperature',
    value: numberAt(entry, 'ReadingCelsius') ?? null,
    unit: 'Cel',
    status: statusOf(entry),
    ...withThresholds(legacyThresholds(entry)),
  }));
  const fans = arrayAt(thermal, 'Fans').filter(isJsonObject).map((entry) => ({
    name: stringAt(entry, 'Name') ?? stringAt(entry, 'FanName') ?? '?',
    type: 'fan',
    value: numberAt(entry, 'Reading') ?? null,
    unit: stringAt(entry, 'ReadingUnits') ?? 'RPM',
    status: statusOf(entry),
    ...withThresholds(legacyThresholds(entry)),
  }));
  return [...temperatures, ...fans];
}

export function fromPower(power: JsonObject): Sensor[] {
  const voltages = arrayAt(power, 'Voltages').filter(isJsonObject).map((entry) => ({
    name: stringAt(entry, 'Name') ?? '?',
    type: 'voltage',
    value: numberAt(entry, 'ReadingVolts') ?? null,
    unit: 'V',
    status: statusOf(entry),
    ...withThresholds(legacyThresholds(entry)),
  }));
  const consumption = arrayAt(power, 'PowerControl').filter(isJsonObject).map((entry) => ({
    name: stringAt(entry, 'Name') ?? 'Power consumption',
    type: 'power',
    value: numberAt(entry, 'PowerConsumedWatts') ?? null,
    unit: 'W',
    status: statusOf(entry),
  }));
  return [...voltages, ...consumption];
}

// DSP2046 Sensor `Thresholds`: {UpperCaution|UpperCritical|UpperFatal|Lower…: {Reading}}; caution ≈ IPMI non-critical, fatal ≈ non-recoverable.
const SENSOR_THRESHOLDS: Record<keyof SensorThresholds, string> = {
  lowerNonRecoverable: 'LowerFatal', lowerCritical: 'LowerCritical', lowerNonCritical: 'LowerCaution',
  upperNonCritical: 'UpperCaution', upperCritical: 'UpperCritical', upperNonRecoverable: 'UpperFatal',
};
// Thermal/Power v1 (deprecated by Sensor): `UpperThresholdNonCritical` … `LowerThresholdFatal` numbers on the reading itself.
const LEGACY_THRESHOLDS: Record<keyof SensorThresholds, string> = {
  lowerNonRecoverable: 'LowerThresholdFatal', lowerCritical: 'LowerThresholdCritical', lowerNonCritical: 'LowerThresholdNonCritical',
  upperNonCritical: 'UpperThresholdNonCritical', upperCritical: 'UpperThresholdCritical', upperNonRecoverable: 'UpperThresholdFatal',
};

export function sensorThresholds(member: JsonObject): SensorThresholds {
  const table = objectAt(member, 'Thresholds');
  const thresholds: SensorThresholds = {};
  for (const [name, property] of Object.entries(SENSOR_THRESHOLDS)) {
    const value = numberAt(objectAt(table, property), 'Reading');
    if (value !== undefined) thresholds[name as keyof SensorThresholds] = value;
  }
  return thresholds;
}

export function legacyThresholds(entry: JsonObject): SensorThresholds {
  const thresholds: SensorThresholds = {};
  for (const [name, property] of Object.entries(LEGACY_THRESHOLDS)) {
    const value = numberAt(entry, property);
    if (value !== undefined) thresholds[name as keyof SensorThresholds] = value;
  }
  return thresholds;
}

const withThresholds = (thresholds: SensorThresholds) => (Object.keys(thresholds).length > 0 ? { thresholds } : {});

function typeOfReading(readingType: string | undefined): string | undefined {
  switch (readingType) {
    case 'Temperature':
      return 'temperature';
    case 'Rotational':
      return 'fan';
    case 'Voltage':
      return 'voltage';
    case 'Current':
      return 'current';
    case 'Power':
      return 'power';
    default:
      return undefined;
  }
}

/**
 * A Sensor without ReadingType (optional in DSP2046 Sensor; several BMCs
 * leave it out) still says what it measures by its ReadingUnits, in UCUM.
 */
function typeOfUnits(units: string | undefined): string {
  switch (units) {
    case 'Cel':
      return 'temperature';
    case 'RPM':
    case '{rev}/min':
      return 'fan';
    case 'V':
      return 'voltage';
    case 'A':
      return 'current';
    case 'W':
      return 'power';
    default:
      return 'other';
  }
}

/** Status.Health (DSP0268 Resource.Health) to the API's status words. */
function statusOf(entry: JsonObject): string {
  const status = objectAt(entry, 'Status');
  if (stringAt(status, 'State') === 'Absent') return 'unknown';
  switch (stringAt(status, 'Health')) {
    case 'OK':
      return 'ok';
    case 'Warning':
      return 'warning';
    case 'Critical':
      return 'critical';
    default:
      return 'unknown';
  }
}
