import type { PowerEvent } from '../host/host.js';

/**
 * The BMC's System Event Log, shared by IPMI (SEL, IPMI v2.0 §31) and
 * Redfish (LogServices/SEL). Power events from the host land here.
 */
export interface LogEntry {
  /** 1-based record ID, never reused until the log is cleared. */
  id: number;
  /** Seconds since the Unix epoch (IPMI SEL timestamps are 32-bit seconds). */
  timestamp: number;
  event: PowerEvent | 'log-cleared' | 'platform';
  message: string;
  /** A platform event someone sent (IPMI v2.0 §29.3): its fields go into the SEL record as sent. */
  platform?: PlatformEvent;
  /** The sensor type a platform event names (Redfish LogEntry SensorType). */
  sensor?: string;
  /** Redfish LogEntry Severity: what the event means for the server. */
  severity: 'OK' | 'Warning' | 'Critical';
}

/** The fields of a Platform Event Message (IPMI v2.0 §29.3 table 29-4, after the EvM revision). */
export interface PlatformEvent {
  sensorType: number;
  sensorNumber: number;
  /** Bit 7: deassertion; bits 6:0: event/reading type code (§42.1). */
  eventDirType: number;
  data: [number, number, number];
}

// IPMI v2.0 table 42-2: the generic threshold event offsets (event/reading type 0x01).
const THRESHOLD_EVENTS = [
  'Lower Non-critical going low', 'Lower Non-critical going high', 'Lower Critical going low', 'Lower Critical going high',
  'Lower Non-recoverable going low', 'Lower Non-recoverable going high', 'Upper Non-critical going low', 'Upper Non-critical going high',
  'Upper Critical going low', 'Upper Critical going high', 'Upper Non-recoverable going low', 'Upper Non-recoverable going high',
];
// IPMI v2.0 table 42-3, the sensor types a platform event names most often.
const SENSOR_TYPES: Record<number, string> = { 0x01: 'Temperature', 0x02: 'Voltage', 0x04: 'Fan', 0x07: 'Processor', 0x08: 'Power Supply', 0x0c: 'Memory' };

/** How a platform event reads in the log: the threshold crossed, or its type and offset when it is not a threshold event. */
export function describePlatformEvent(event: PlatformEvent): { message: string; sensor: string; severity: LogEntry['severity'] } {
  const sensor = SENSOR_TYPES[event.sensorType] ?? `Sensor type 0x${event.sensorType.toString(16).padStart(2, '0')}`;
  const deasserted = (event.eventDirType & 0x80) !== 0;
  const offset = event.data[0] & 0x0f;
  if ((event.eventDirType & 0x7f) === 0x01 && offset < THRESHOLD_EVENTS.length) {
    const name = THRESHOLD_EVENTS[offset]!;
    const severity = deasserted ? 'OK' : /Non-critical/.test(name) ? 'Warning' : 'Critical';
    return { message: `${sensor} ${name}${deasserted ? ' (deasserted)' : ''}`, sensor, severity };
  }
  return { message: `${sensor} event, offset ${offset}${deasserted ? ' (deasserted)' : ''}`, sensor, severity: 'OK' };
}

const MAX_ENTRIES = 512;

const MESSAGES: Record<Exclude<LogEntry['event'], 'platform'>, string> = {
  'power-on': 'Host power on',
  'power-off': 'Host power off (forced)',
  'soft-off': 'Host soft shutdown requested',
  reset: 'Host reset',
  'power-cycle': 'Host power cycle',
  'log-cleared': 'Event log cleared',
};

export class EventLog {
  private readonly records: LogEntry[] = [];
  private nextId = 1;
  /** Changes whenever the log is cleared, invalidating IPMI reservations. */
  reservation = 0;
  lastAddition = 0;
  lastErase = 0;

  constructor(private readonly now: () => number) {}

  get entries(): readonly LogEntry[] {
    return this.records;
  }

  add(event: Exclude<LogEntry['event'], 'platform'>): LogEntry {
    return this.append({ event, message: MESSAGES[event], severity: 'OK' });
  }

  /** A Platform Event Message (IPMI v2.0 §29.3): the BMC logs it as a system event record. */
  addPlatformEvent(platform: PlatformEvent): LogEntry {
    return this.append({ event: 'platform', platform, ...describePlatformEvent(platform) });
  }

  private append(fields: Omit<LogEntry, 'id' | 'timestamp'>): LogEntry {
    const entry: LogEntry = { id: this.nextId++, timestamp: Math.floor(this.now() / 1000), ...fields };
    this.records.push(entry);
    // A full SEL on real BMCs stops logging; dropping the oldest keeps the demo alive.
    if (this.records.length > MAX_ENTRIES) this.records.shift();
    this.lastAddition = entry.timestamp;
    return entry;
  }

  clear(): void {
    this.records.length = 0;
    this.lastErase = Math.floor(this.now() / 1000);
    this.add('log-cleared');
  }

  find(id: number): LogEntry | undefined {
    return this.records.find((entry) => entry.id === id);
  }
}
