import { describe, expect, it } from 'vitest';
import { localAndUtc } from './times.js';

describe('localAndUtc', () => {
  it('shows the viewer\'s zone and keeps UTC for the hover', () => {
    expect(localAndUtc('2026-03-01T23:30:05.000Z', 'en-GB', 'Europe/Berlin')).toEqual({ local: '2 Mar 2026, 00:30:05', utc: '2026-03-01 23:30:05 UTC' });
    expect(localAndUtc('2026-03-01T23:30:05Z', 'en-US', 'America/New_York')!.local).toBe('Mar 1, 2026, 06:30:05 PM');
  });
  it('has nothing to show for no time or an unreadable one', () => {
    expect(localAndUtc(null)).toBeNull();
    expect(localAndUtc('not a time')).toBeNull();
  });
});
