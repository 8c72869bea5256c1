import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRing } from './byte-ring.js';

type Operation = { push: Uint8Array } | { drop: number } | { read: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 70 }).map((push) => ({ push })) },
  { weight: 2, arbitrary: fc.nat().map((drop) => ({ drop })) },
  { weight: 2, arbitrary: fc.nat().map((read) => ({ read })) },
);

/** The model: every byte ever pushed, and the offset of the first one still held. */
function check(maxBytes: number | undefined, minBytes: number, operations: Operation[]): void {
  const ring = new ByteRing({ ...(maxBytes === undefined ? {} : { maxBytes }), minBytes, startOffset: 7 });
  const all: number[] = [];
  let start = 0;
  for (const step of operations) {
    if ('push' in step) {
      ring.push(step.push);
      all.push(...step.push);
      if (maxBytes !== undefined) start = Math.max(start, all.length - maxBytes);
    } else if ('drop' in step) {
      const offset = start + (step.drop % (all.length - start + 1));
      ring.dropBefore(7 + offset);
      start = offset;
    } else {
      const offset = start + (step.read % (all.length - start + 1));
      expect(Array.from(ring.copyFrom(7 + offset))).toEqual(all.slice(offset));
    }
    expect(ring.start).toBe(7 + start);
    expect(ring.end).toBe(7 + all.length);
    expect(ring.size).toBe(all.length - start);
    if (maxBytes !== undefined) expect(ring.allocatedBytes).toBeLessThanOrEqual(maxBytes);
    else expect(ring.allocatedBytes).toBeLessThanOrEqual(Math.max(minBytes, 4 * ring.size));
  }
  expect(Array.from(ring.copyFrom())).toEqual(all.slice(start));
}

describe('ByteRing', () => {
  it('holds exactly the bytes after the last drop, byte-exact across wraps, evicting past maxBytes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 64 }), fc.array(operation, { maxLength: 60 }), (maxBytes, minBytes, operations) =>
        check(maxBytes, minBytes, operations),
      ),
      { numRuns: 500 },
    );
  });

  it('unbounded, grows with what it holds and gives storage back when acknowledged (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(operation, { maxLength: 60 }), (minBytes, operations) => check(undefined, minBytes, operations)),
      { numRuns: 500 },
    );
  });

  it('holds nothing with maxBytes 0, yet counts the offsets', () => {
    const ring = new ByteRing({ maxBytes: 0 });
    ring.push(new Uint8Array(5));
    expect([ring.start, ring.end, ring.size, ring.allocatedBytes]).toEqual([5, 5, 0, 0]);
  });

  it('a chunk larger than maxBytes leaves only its tail', () => {
    const ring = new ByteRing({ maxBytes: 4 });
    ring.push(Uint8Array.of(1, 2));
    ring.push(Uint8Array.of(3, 4, 5, 6, 7, 8));
    expect(Array.from(ring.copyFrom())).toEqual([5, 6, 7, 8]);
    expect(ring.start).toBe(4);
  });
});
