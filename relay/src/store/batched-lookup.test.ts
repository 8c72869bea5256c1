import { describe, expect, it } from 'vitest';
import { BatchedLookup } from './batched-lookup.js';

describe('batched lookup: the keys asked for in one turn are read by one statement', () => {
  it('answers every caller, a key asked twice included, from one read; a key with no row is undefined', async () => {
    const reads: string[][] = [];
    const lookup = new BatchedLookup(async (keys: string[]) => {
      reads.push(keys);
      return new Map(keys.filter((key) => key !== 'missing').map((key) => [key, `row ${key}`]));
    });
    const answers = await Promise.all(['a', 'b', 'a', 'missing'].map((key) => lookup.get(key)));
    expect(answers).toEqual(['row a', 'row b', 'row a', undefined]);
    expect(reads).toEqual([['a', 'b', 'missing']]);
    // A later turn reads again: nothing is cached.
    expect(await lookup.get('a')).toBe('row a');
    expect(reads).toHaveLength(2);
  });

  it('splits a large batch into statements of at most maxKeys, and a failed read fails its callers only', async () => {
    const reads: number[][] = [];
    const lookup = new BatchedLookup(async (keys: number[]) => {
      reads.push(keys);
      if (keys.includes(4)) throw new Error('store unreachable');
      return new Map(keys.map((key) => [key, key * 10]));
    }, 3);
    const answers = await Promise.allSettled([1, 2, 3, 4, 5].map((key) => lookup.get(key)));
    expect(reads).toEqual([[1, 2, 3], [4, 5]]);
    expect(answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : (answer.reason as Error).message))).toEqual([10, 20, 30, 'store unreachable', 'store unreachable']);
  });
});
