import { describe, expect, it } from 'vitest';
import { count } from './count.js';

describe('count', () => {
  it('names one thing in the singular and every other number in the plural', () => {
    expect([count(0, 'tab'), count(1, 'tab'), count(2, 'tab'), count(10_000, 'server')]).toEqual(['0 tabs', '1 tab', '2 tabs', '10,000 servers']);
    expect(count(1, 'agent behind', 'agents behind')).toBe('1 agent behind');
  });
});
