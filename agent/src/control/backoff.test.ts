import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StreamTiming } from '@lightsout/shared';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, DEFAULT_CONNECT_TIMEOUT_MS } from './backoff.js';

const policies = fc
  .tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 600_000 }))
  .map(([baseMs, extra]) => ({ baseMs, capMs: baseMs + extra }));

describe('backoff schedule', () => {
  it('doubles from 500 ms and stops at the 5 s cap by default', () => {
    expect([0, 1, 2, 3, 4, 5, 100].map((attempt) => backoffCeiling(attempt))).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('keeps the worst-case reconnect (cap + one connect attempt) well inside the stream grace period', () => {
    expect(DEFAULT_BACKOFF.capMs + DEFAULT_CONNECT_TIMEOUT_MS).toBeLessThanOrEqual(StreamTiming.graceMs / 2);
  });

  it('uses the whole window: random 0 gives 0, random just below 1 gives just below the ceiling', () => {
    expect(backoffDelay(3, 0)).toBe(0);
    expect(backoffDelay(3, 0.999_999)).toBe(3999);
    expect(backoffDelay(3, 0.5, DEFAULT_BACKOFF)).toBe(2000);
  });

  it('always stays within [0, ceiling) and never exceeds the cap', () => {
    fc.assert(
      fc.property(policies, fc.nat({ max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (policy, attempt, random) => {
        const ceiling = backoffCeiling(attempt, policy);
        const delay = backoffDelay(attempt, random, policy);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.max(0, ceiling - 1));
        expect(ceiling).toBeLessThanOrEqual(policy.capMs);
        expect(ceiling).toBeGreaterThanOrEqual(Math.min(policy.baseMs, policy.capMs));
      }),
    );
  });

  it('has a ceiling that never shrinks as attempts grow and reaches the cap', () => {
    fc.assert(
      fc.property(policies, fc.nat({ max: 200 }), (policy, attempt) => {
        expect(backoffCeiling(attempt + 1, policy)).toBeGreaterThanOrEqual(backoffCeiling(attempt, policy));
        expect(backoffCeiling(attempt + 40, policy)).toBe(policy.capMs);
      }),
    );
  });
});
