import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseRange } from './range.js';

describe('parseRange (RFC 9110 §14.1.2)', () => {
  it.each([
    [undefined, 1000, { kind: 'whole' }],
    ['bytes=0-99', 1000, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=900-', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-100', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', 1000, { kind: 'partial', start: 0, end: 999 }],
    ['bytes=990-5000', 1000, { kind: 'partial', start: 990, end: 999 }],
    ['bytes=1000-', 1000, { kind: 'unsatisfiable' }],
    ['bytes=-0', 1000, { kind: 'unsatisfiable' }],
    ['bytes=50-10', 1000, { kind: 'whole' }],
    ['bytes=0-1,5-6', 1000, { kind: 'whole' }],
    ['items=0-1', 1000, { kind: 'whole' }],
  ] as const)('%s of %d', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it('never returns a range outside the file', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(1 << 30), (header, size) => {
        const result = parseRange(header, size);
        if (result.kind === 'partial') return result.start >= 0 && result.start <= result.end && result.end < size;
        return true;
      }),
    );
  });
});
