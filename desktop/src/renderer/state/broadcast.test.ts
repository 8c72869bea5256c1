import { describe, expect, it } from 'vitest';
import { BroadcastGroup } from './broadcast.js';

describe('BroadcastGroup', () => {
  it('sends to the other members only, and only from a member', () => {
    const group = new BroadcastGroup();
    const received: string[] = [];
    const leaveA = group.join('a', (bytes) => received.push(`a:${bytes[0]}`));
    group.join('b', (bytes) => received.push(`b:${bytes[0]}`));
    group.join('c', (bytes) => received.push(`c:${bytes[0]}`));
    expect(group.send('a', new Uint8Array([1]))).toBe(2);
    expect(received).toEqual(['b:1', 'c:1']);
    expect(group.send('outsider', new Uint8Array([2]))).toBe(0);
    leaveA();
    expect(group.send('b', new Uint8Array([3]))).toBe(1);
    expect(received).toEqual(['b:1', 'c:1', 'c:3']);
  });

  it('reports its size to listeners', () => {
    const group = new BroadcastGroup();
    const sizes: number[] = [];
    group.onSize((size) => sizes.push(size));
    const leave = group.join('a', () => {});
    leave();
    expect(sizes).toEqual([1, 0]);
  });
});
