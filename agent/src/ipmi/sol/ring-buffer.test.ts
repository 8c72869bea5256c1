import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ring-buffer.js';

describe('RingBuffer', () => {
  it('always holds exactly the last `capacity` bytes pushed', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }), (capacity, chunks) => {
      const ring = new RingBuffer(capacity);
      const all: number[] = [];
      for (const chunk of chunks) {
        ring.push(chunk);
        all.push(...chunk);
      }
      expect(Array.from(ring.snapshot())).toEqual(all.slice(Math.max(0, all.length - capacity)));
    }));
  });
});
