import type { SelEntry, Sensor } from '@lightsout/shared';

export type Severity = 'critical' | 'warning' | 'info';

/** The relay lists the fleet's critical events with the same reading. */
export { selSeverity } from '@lightsout/shared';

/** A sensor's status word (Sensor.status) as a severity. */
export function sensorSeverity(sensor: Pick<Sensor, 'status'>): Severity {
  if (sensor.status === 'critical' || sensor.status === 'non-recoverable') return 'critical';
  if (sensor.status === 'warning') return 'warning';
  return 'info';
}

/** Newest first: by time, the entries a BMC logged before its clock was set (no time) last, then by record id. */
export function newestFirst<T extends Pick<SelEntry, 'id' | 'time'>>(entries: readonly T[]): T[] {
  return [...entries].sort((left, right) => {
    if (left.time !== right.time) {
      if (left.time === null) return 1;
      if (right.time === null) return -1;
      return Date.parse(right.time) - Date.parse(left.time);
    }
    return right.id - left.id;
  });
}
