import { describe, expect, it } from 'vitest';
import { count, runningNote } from './count.js';

describe('count', () => {
  it('names one thing in the singular and every other number in the plural', () => {
    expect([count(0, 'tab'), count(1, 'tab'), count(2, 'tab'), count(10_000, 'server')]).toEqual(['0 tabs', '1 tab', '2 tabs', '10,000 servers']);
    expect(count(1, 'agent behind', 'agents behind')).toBe('1 agent behind');
  });
});

describe('runningNote', () => {
  it('says "it" for one server and agrees the verb with the count for several', () => {
    expect(runningNote(1, 1)).toBe(' — it is running now');
    expect(runningNote(1, 3)).toBe(' — 1 of them is running now');
    expect(runningNote(2, 3)).toBe(' — 2 of them are running now');
    expect(runningNote(0, 3)).toBe('');
  });
});
