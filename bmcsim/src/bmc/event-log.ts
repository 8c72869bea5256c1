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
  event: PowerEvent | 'log-cleared';
  message: string;
}

const MAX_ENTRIES = 512;

const MESSAGES: Record<LogEntry['event'], string> = {
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

  add(event: LogEntry['event']): LogEntry {
    const entry: LogEntry = { id: this.nextId++, timestamp: Math.floor(this.now() / 1000), event, message: MESSAGES[event] };
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
