import { describe, expect, it } from 'vitest';
import { sensorHistoryNote } from './sensor-note.js';

describe('sensorHistoryNote', () => {
  it('says the agent samples by itself when it does', () => {
    expect(sensorHistoryNote(120, 60, 15)).toBe('120 readings kept by the agent · it reads them every 60 s, and every 15 s while this page is open');
  });
  it('says readings come only while the page is open when the agent does not sample', () => {
    expect(sensorHistoryNote(1, 0, 15)).toBe('1 reading kept by the agent · one every 15 s while this page is open');
  });
});
