import { NET_FN } from '../message.js';
import { type CommandRequest, responseData } from './command.js';

// Get Sensor Reading, sensor netFn (0x04) cmd 0x2D, IPMI v2.0 §35.14:
// request | sensor number (1) |;
// response | reading (1) | flags (1: bit 7 events enabled, bit 6 scanning enabled, bit 5 reading unavailable) |
//          | [threshold status or discrete state bits 7:0 (1)] | [discrete state bits 14:8 (1)] |
// Threshold status bits: 0 lower non-critical, 1 lower critical, 2 lower non-recoverable,
// 3 upper non-critical, 4 upper critical, 5 upper non-recoverable.
export interface SensorReading {
  raw: number;
  eventsEnabled: boolean;
  scanningEnabled: boolean;
  unavailable: boolean;
  /** Threshold bits, or discrete state bits 0–14. */
  state: number;
}

export const getSensorReadingRequest = (sensorNumber: number): CommandRequest => ({ netFn: NET_FN.sensor, command: 0x2d, data: Uint8Array.of(sensorNumber) });

export function decodeSensorReading(data: Uint8Array): SensorReading {
  responseData(data, 2, 'Get Sensor Reading');
  const flags = data[1]!;
  return {
    raw: data[0]!,
    eventsEnabled: (flags & 0x80) !== 0,
    scanningEnabled: (flags & 0x40) !== 0,
    unavailable: (flags & 0x20) !== 0,
    state: (data[2] ?? 0) | ((data[3] ?? 0) & 0x7f) << 8,
  };
}

export function encodeSensorReading(reading: SensorReading): Uint8Array {
  return Uint8Array.of(reading.raw, (reading.eventsEnabled ? 0x80 : 0) | (reading.scanningEnabled ? 0x40 : 0) | (reading.unavailable ? 0x20 : 0), reading.state & 0xff, (reading.state >> 8) & 0x7f);
}

/** Shared-schema status of a threshold sensor from its status bits. */
export function thresholdStatus(state: number): 'ok' | 'warning' | 'critical' | 'non-recoverable' {
  if (state & 0x24) return 'non-recoverable';
  if (state & 0x12) return 'critical';
  if (state & 0x09) return 'warning';
  return 'ok';
}
