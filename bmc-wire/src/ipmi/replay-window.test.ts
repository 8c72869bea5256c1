import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from './replay-window.js';

describe('ReplayWindow', () => {
  it('accepts in-order and reordered packets once, refuses 0, duplicates and old ones', () => {
    const window = new ReplayWindow(8);
    expect(window.accept(0)).toBe(false);
    expect(window.accept(10)).toBe(true);
    expect(window.accept(10)).toBe(false);
    expect(window.accept(12)).toBe(true);
    expect(window.accept(11)).toBe(true);
    expect(window.accept(11)).toBe(false);
    expect(window.accept(5)).toBe(true);
    expect(window.accept(4)).toBe(false);
    expect(window.accept(12 + 300)).toBe(false);
  });

  it('handles 32-bit wraparound', () => {
    const window = new ReplayWindow(8);
    expect(window.accept(0xfffffffe)).toBe(true);
    expect(window.accept(1)).toBe(true);
    expect(window.accept(0xffffffff)).toBe(true);
    expect(window.accept(0xfffffffe)).toBe(false);
  });

  it('never accepts the same number twice, whatever the order', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), (sequence) => {
      const window = new ReplayWindow(8);
      const accepted = new Set<number>();
      for (const value of sequence) {
        if (window.accept(value)) {
          expect(accepted.has(value)).toBe(false);
          accepted.add(value);
        }
      }
    }));
  });
});
