import { describe, expect, it } from 'vitest';
import { StallWatch } from './stall-watch.js';

describe('StallWatch', () => {
  it('calls input stale right after the loop stood still longer than the bound, and for the settle time after', () => {
    let now = 0;
    const watch = new StallWatch({ staleAfterMs: 2000, settleMs: 100, now: () => now });
    for (; now <= 1000; now += 100) watch.tick();
    expect(watch.inputIsStale()).toBe(false);
    // Frozen for 20 s: the sockets are read before the timer runs again, however long that first pass takes.
    now += 20_000;
    expect(watch.inputIsStale()).toBe(true);
    now += 300;
    expect(watch.inputIsStale()).toBe(true);
    watch.tick();
    now += 50;
    expect(watch.inputIsStale()).toBe(true);
    now += 100;
    watch.tick();
    expect(watch.inputIsStale()).toBe(false);
  });

  it('a pause shorter than the bound (a GC, a busy turn) keeps input', () => {
    let now = 0;
    const watch = new StallWatch({ staleAfterMs: 2000, now: () => now });
    now += 1900;
    expect(watch.inputIsStale()).toBe(false);
  });

  it('a stall the timer notices first still makes the input that follows stale', () => {
    let now = 0;
    const watch = new StallWatch({ staleAfterMs: 2000, settleMs: 500, now: () => now });
    now += 5000;
    watch.tick();
    now += 10;
    expect(watch.inputIsStale()).toBe(true);
  });
});
