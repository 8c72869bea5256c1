import { describe, expect, it } from 'vitest';
import { fitScale } from './fit.js';

describe('fitScale', () => {
  it('fills the pane along the tighter side, up or down', () => {
    expect(fitScale({ width: 1600, height: 900 }, { width: 800, height: 600 })).toBe(1.5);
    expect(fitScale({ width: 400, height: 900 }, { width: 800, height: 600 })).toBe(0.5);
  });

  it('leaves the size alone while either side is not laid out yet', () => {
    expect(fitScale({ width: 0, height: 900 }, { width: 800, height: 600 })).toBe(1);
    expect(fitScale({ width: 800, height: 600 }, { width: 0, height: 0 })).toBe(1);
  });
});
