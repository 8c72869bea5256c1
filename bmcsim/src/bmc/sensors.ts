/**
 * A few sensors whose readings drift smoothly with time (a pure function of
 * the clock and the BMC's seed, so no timer runs and tests can predict them).
 * IPMI reads them through SDRs, Redfish through Chassis Thermal/Power.
 */
export type SensorKind = 'temperature' | 'fan' | 'voltage';

export interface SensorDefinition {
  /** IPMI sensor number (also the SDR record's sensor number). */
  number: number;
  name: string;
  kind: SensorKind;
  unit: 'degrees C' | 'RPM' | 'Volts';
  /** Reading while the host runs, and while it is off. */
  nominal: number;
  nominalOff: number;
  amplitude: number;
  periodSeconds: number;
  /** Raw-to-value for the 8-bit IPMI reading: value = raw × multiplier (IPMI v2.0 §36.3, M only). */
  multiplier: number;
  upperCritical: number;
  lowerCritical: number;
}

export const SENSORS: readonly SensorDefinition[] = [
  { number: 1, name: 'CPU Temp', kind: 'temperature', unit: 'degrees C', nominal: 48, nominalOff: 25, amplitude: 4, periodSeconds: 90, multiplier: 1, upperCritical: 95, lowerCritical: 5 },
  { number: 2, name: 'Inlet Temp', kind: 'temperature', unit: 'degrees C', nominal: 23, nominalOff: 22, amplitude: 1, periodSeconds: 300, multiplier: 1, upperCritical: 45, lowerCritical: 5 },
  { number: 3, name: 'Fan1', kind: 'fan', unit: 'RPM', nominal: 5400, nominalOff: 0, amplitude: 300, periodSeconds: 60, multiplier: 60, upperCritical: 15000, lowerCritical: 600 },
  { number: 4, name: '12V', kind: 'voltage', unit: 'Volts', nominal: 12.1, nominalOff: 0, amplitude: 0.1, periodSeconds: 45, multiplier: 0.1, upperCritical: 13.2, lowerCritical: 10.8 },
  { number: 5, name: '3.3V', kind: 'voltage', unit: 'Volts', nominal: 3.3, nominalOff: 3.3, amplitude: 0.04, periodSeconds: 33, multiplier: 0.02, upperCritical: 3.6, lowerCritical: 3.0 },
];

export function sensorReading(sensor: SensorDefinition, nowMs: number, poweredOn: boolean, seed: number): number {
  const base = poweredOn ? sensor.nominal : sensor.nominalOff;
  if (base === 0) return 0;
  const phase = ((seed * 2654435761) % 1000) / 1000;
  const angle = 2 * Math.PI * (nowMs / 1000 / sensor.periodSeconds + phase);
  return base + sensor.amplitude * Math.sin(angle);
}

/** The reading as the 8-bit raw value IPMI carries (clamped to 0..255). */
export function rawReading(sensor: SensorDefinition, value: number): number {
  return Math.max(0, Math.min(255, Math.round(value / sensor.multiplier)));
}
