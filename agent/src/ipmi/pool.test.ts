import { describe, expect, it } from 'vitest';
import { SessionPool } from './pool.js';

describe('SessionPool', () => {
  it('never runs more than `limit` tasks at once and runs them all', async () => {
    const pool = new SessionPool(3);
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const tasks = Array.from({ length: 10 }, (_, index) => pool.run(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return index;
    }));
    // Release tasks one by one as they start: completion is driven by the test, not by time.
    for (let released = 0; released < 10; released++) {
      await expect.poll(() => releases.length > 0, { timeout: 1000, interval: 1 }).toBe(true);
      expect(pool.inUse).toBeLessThanOrEqual(3);
      releases.shift()!();
    }
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
  });
});
