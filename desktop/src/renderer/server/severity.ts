import type { SelEntry, Sensor } from '@lightsout/shared';

export type Severity = 'critical' | 'warning' | 'info';

/**
 * How bad an event-log entry reads, for its colour: the threshold event
 * names of IPMI v2.0 table 42-2 ("Upper Critical going high"), the generic
 * and sensor-specific offsets (table 42-3: "Failure detected", "Uncorrectable
 * ECC", "Power Supply AC lost") and Redfish LogEntry Severity words. A
 * deasserted event is the condition going away: information.
 */
export function selSeverity(entry: Pick<SelEntry, 'event' | 'direction'>): Severity {
  if (entry.direction === 'deasserted') return 'info';
  const text = entry.event.toLowerCase();
  if (/non-critical|noncritical|warning|degraded|predictive|caution/.test(text)) return 'warning';
  if (/critical|non-recoverable|fatal|fail|fault|error|uncorrectable|lost|thermal trip|machine check/.test(text)) return 'critical';
  return 'info';
}

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
