import { describe, expect, it } from 'vitest';
import { RandomPool } from './random-pool.js';

/** A fill that writes a running counter, so every byte handed out is identifiable. */
function countingFill(): { fill: (bytes: Uint8Array) => void; calls: number[] } {
  let next = 0;
  const calls: number[] = [];
  return {
    calls,
    fill(bytes) {
      calls.push(bytes.length);
      for (let index = 0; index < bytes.length; index++) bytes[index] = next++ & 0xff;
    },
  };
}

describe('RandomPool', () => {
  it('hands out each filled byte once, in order, across block refills', () => {
    const source = countingFill();
    const pool = new RandomPool(source.fill, 40);
    const taken = [pool.take(16), pool.take(16), pool.take(16), pool.take(4)];
    // 16 + 16 fit the first block of 40; the third 16 needs a new block and the first's last 8 bytes are never used.
    expect([...taken[0]!]).toEqual(Array.from({ length: 16 }, (_, index) => index));
    expect([...taken[1]!]).toEqual(Array.from({ length: 16 }, (_, index) => 16 + index));
    expect([...taken[2]!]).toEqual(Array.from({ length: 16 }, (_, index) => 40 + index));
    expect([...taken[3]!]).toEqual([56, 57, 58, 59]);
    expect(source.calls).toEqual([40, 40]);
  });

  it('fills a request larger than its block directly', () => {
    const source = countingFill();
    const pool = new RandomPool(source.fill, 8);
    expect(pool.take(20)).toHaveLength(20);
    expect(source.calls).toEqual([20]);
  });

  it('returns arrays that own their bytes: changing one changes nothing else handed out', () => {
    const source = countingFill();
    const pool = new RandomPool(source.fill, 64);
    const first = pool.take(16);
    const second = pool.take(16);
    first.fill(0xff);
    expect([...second]).toEqual(Array.from({ length: 16 }, (_, index) => 16 + index));
    expect(first.buffer).not.toBe(second.buffer);
    expect(pool.take(0)).toHaveLength(0);
  });

  it('refuses counts that are not byte counts', () => {
    const pool = new RandomPool(() => undefined, 16);
    expect(() => pool.take(-1)).toThrow(RangeError);
    expect(() => pool.take(1.5)).toThrow(RangeError);
    expect(() => new RandomPool(() => undefined, 0)).toThrow(RangeError);
  });
});
