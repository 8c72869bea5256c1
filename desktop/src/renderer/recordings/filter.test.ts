import type { RecordingMeta } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { filterRecordings } from './filter.js';

const meta = (id: string, user: string, kind: RecordingMeta['kind'], startedAt: number): RecordingMeta => ({ id, sessionId: id, serverId: 'web-01', tenant: 'demo', kind, user, startedAt });
const list = [meta('a', 'Alice Ops', 'sol', 1), meta('b', 'bob', 'vnc', 2), meta('c', 'alice', 'vnc', 3)];
const started = (entry: RecordingMeta) => `day-${entry.startedAt}`;

describe('filterRecordings', () => {
  it('keeps rows holding every word, in user, console kind or start, ignoring case', () => {
    expect(filterRecordings(list, 'ALICE', started).map((entry) => entry.id)).toEqual(['a', 'c']);
    expect(filterRecordings(list, 'alice vnc', started).map((entry) => entry.id)).toEqual(['c']);
    expect(filterRecordings(list, 'day-2', started).map((entry) => entry.id)).toEqual(['b']);
    expect(filterRecordings(list, 'carol', started)).toEqual([]);
  });

  it('keeps everything for an empty query', () => {
    expect(filterRecordings(list, '  ', started)).toHaveLength(3);
  });
});
