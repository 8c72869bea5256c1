import { describe, expect, it } from 'vitest';
import { newestFirst, selSeverity, sensorSeverity } from './severity.js';

describe('severity', () => {
  it('reads IPMI threshold and sensor-specific event names', () => {
    expect(selSeverity({ event: 'Upper Critical going high', direction: 'asserted' })).toBe('critical');
    expect(selSeverity({ event: 'Upper Non-critical going high', direction: 'asserted' })).toBe('warning');
    expect(selSeverity({ event: 'Power Supply AC lost', direction: 'asserted' })).toBe('critical');
    expect(selSeverity({ event: 'Uncorrectable ECC', direction: 'asserted' })).toBe('critical');
    expect(selSeverity({ event: 'Predictive failure', direction: 'asserted' })).toBe('warning');
    expect(selSeverity({ event: 'Log area reset/cleared', direction: 'asserted' })).toBe('info');
  });
  it('takes a deasserted event as the condition going away', () => {
    expect(selSeverity({ event: 'Upper Critical going high', direction: 'deasserted' })).toBe('info');
  });
  it('maps sensor status words', () => {
    expect(sensorSeverity({ status: 'non-recoverable' })).toBe('critical');
    expect(sensorSeverity({ status: 'warning' })).toBe('warning');
    expect(sensorSeverity({ status: 'ok' })).toBe('info');
  });
  it('sorts newest first, entries without a time last, ties by record id', () => {
    const entries = [
      { id: 1, time: null },
      { id: 2, time: '2026-01-01T10:00:00Z' },
      { id: 3, time: '2026-01-01T12:00:00Z' },
      { id: 4, time: '2026-01-01T10:00:00Z' },
      { id: 5, time: null },
    ];
    expect(newestFirst(entries).map((entry) => entry.id)).toEqual([3, 4, 2, 5, 1]);
  });
});
