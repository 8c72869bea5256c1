import { describe, expect, it } from 'vitest';
import { PacerClosedError, ProbePacer } from './pacer.js';

/** The most grants inside any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe('probe pacer', () => {
  it('never lets more than the limit out in any second, and spreads them', async () => {
    const pacer = new ProbePacer(200);
    const times: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 450 }, async () => {
        await pacer.take();
        times.push(performance.now());
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    expect(pacer.count).toBe(450);
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(200);
    // 450 at 200/s: the last one cannot leave before 2 s (slots 0 … 449 × 5 ms).
    expect(seconds).toBeGreaterThanOrEqual(2.2);
  });

  it('refuses waiting and later probes once closed', async () => {
    const pacer = new ProbePacer(1);
    await pacer.take();
    const waiting = pacer.take();
    pacer.close();
    await expect(waiting).rejects.toBeInstanceOf(PacerClosedError);
    await expect(pacer.take()).rejects.toBeInstanceOf(PacerClosedError);
  });
});
