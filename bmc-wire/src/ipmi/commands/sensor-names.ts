// Names for sensor types (IPMI v2.0 §42.2 table 42-3) and base units (§43.17 table 43-15).

const SENSOR_TYPES: readonly string[] = [
  'reserved', 'temperature', 'voltage', 'current', 'fan', 'physical security', 'platform security', 'processor',
  'power supply', 'power unit', 'cooling device', 'other units', 'memory', 'drive slot', 'POST memory resize',
  'system firmware progress', 'event logging disabled', 'watchdog 1', 'system event', 'critical interrupt',
  'button/switch', 'module/board', 'microcontroller', 'add-in card', 'chassis', 'chip set', 'other FRU',
  'cable/interconnect', 'terminator', 'system boot initiated', 'boot error', 'OS boot', 'OS critical stop',
  'slot/connector', 'system ACPI power state', 'watchdog', 'platform alert', 'entity presence', 'monitor ASIC',
  'LAN', 'management subsystem health', 'battery', 'session audit', 'version change', 'FRU state',
];

export function sensorTypeName(code: number): string {
  return SENSOR_TYPES[code] ?? (code >= 0xc0 ? 'OEM' : 'unknown');
}

const BASE_UNITS: readonly string[] = [
  'unspecified', 'degrees C', 'degrees F', 'degrees K', 'Volts', 'Amps', 'Watts', 'Joules', 'Coulombs', 'VA', 'Nits',
  'lumen', 'lux', 'Candela', 'kPa', 'PSI', 'Newton', 'CFM', 'RPM', 'Hz', 'microsecond', 'millisecond', 'second',
  'minute', 'hour', 'day', 'week', 'mil', 'inches', 'feet', 'cu in', 'cu feet', 'mm', 'cm', 'm', 'cu cm', 'cu m',
  'liters', 'fluid ounce', 'radians', 'steradians', 'revolutions', 'cycles', 'gravities', 'ounce', 'pound', 'ft-lb',
  'oz-in', 'gauss', 'gilberts', 'henry', 'millihenry', 'farad', 'microfarad', 'ohms', 'siemens', 'mole', 'becquerel',
  'PPM', 'reserved', 'Decibels', 'DbA', 'DbC', 'gray', 'sievert', 'color temp deg K', 'bit', 'kilobit', 'megabit',
  'gigabit', 'byte', 'kilobyte', 'megabyte', 'gigabyte', 'word', 'dword', 'qword', 'line', 'hit', 'miss', 'retry',
  'reset', 'overrun', 'underrun', 'collision', 'packets', 'messages', 'characters', 'error', 'correctable error',
  'uncorrectable error', 'fatal error', 'grams',
];

export function baseUnitName(code: number): string {
  return BASE_UNITS[code] ?? 'unknown';
}

/** The Sensor.type bucket of the shared schema: temperature, fan, voltage, current, power, other. */
export function sensorKind(sensorType: number, unit: string): string {
  if (sensorType === 0x01) return 'temperature';
  if (sensorType === 0x02) return 'voltage';
  if (sensorType === 0x03) return 'current';
  if (sensorType === 0x04) return 'fan';
  if (unit === 'Watts') return 'power';
  return 'other';
}
