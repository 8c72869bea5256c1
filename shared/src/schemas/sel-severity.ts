import type { SelEntry } from './operations.js';

export type SelSeverity = 'critical' | 'warning' | 'info';

/**
 * How bad an event-log entry reads: the threshold event names of IPMI v2.0
 * table 42-2 ("Upper Critical going high"), the generic and sensor-specific
 * offsets (table 42-3: "Failure detected", "Uncorrectable ECC", "Power
 * Supply AC lost") and Redfish LogEntry Severity words. A deasserted event
 * is the condition going away: information. One reading for the relay (the
 * fleet's critical events) and the console (a row's colour), so both agree.
 */
export function selSeverity(entry: Pick<SelEntry, 'event' | 'direction'>): SelSeverity {
  if (entry.direction === 'deasserted') return 'info';
  const text = entry.event.toLowerCase();
  if (/non-critical|noncritical|warning|degraded|predictive|caution/.test(text)) return 'warning';
  if (/critical|non-recoverable|fatal|fail|fault|error|uncorrectable|lost|thermal trip|machine check/.test(text)) return 'critical';
  return 'info';
}
