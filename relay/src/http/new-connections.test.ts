import { describe, expect, it } from 'vitest';
import { NewConnectionQueue } from './new-connections.js';

/** Resolves after the queue's next turn (it runs on setImmediate, after the poll phase). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('new connections, a few per event-loop turn', () => {
  it('runs at most perTurn in one turn and the rest in later turns, in order per address', async () => {
    const queue = new NewConnectionQueue(4);
    const ran: string[] = [];
    const ranNow = Array.from({ length: 10 }, (_, index) => queue.run('192.0.2.1', () => ran.push(`a${index}`)));
    expect(ranNow).toEqual([true, true, true, true, false, false, false, false, false, false]);
    expect(ran).toEqual(['a0', 'a1', 'a2', 'a3']);
    expect(queue.queued).toBe(6);
    await nextTurn();
    expect(ran).toHaveLength(8);
    await nextTurn();
    expect(ran).toEqual(Array.from({ length: 10 }, (_, index) => `a${index}`));
    expect(queue.queued).toBe(0);
  });

  it("takes addresses round-robin: another client's first connection waits one round, not the flood", async () => {
    const queue = new NewConnectionQueue(2);
    const ran: string[] = [];
    for (let index = 0; index < 50; index += 1) queue.run('192.0.2.1', () => ran.push('flood'));
    queue.run('192.0.2.2', () => ran.push('other'));
    expect(ran).toEqual(['flood', 'flood']);
    await nextTurn();
    expect(ran).toEqual(['flood', 'flood', 'flood', 'other']);
  });

  it('once the backlog is gone, a new connection runs at once again', async () => {
    const queue = new NewConnectionQueue(1);
    const ran: number[] = [];
    queue.run('192.0.2.1', () => ran.push(1));
    expect(queue.run('192.0.2.1', () => ran.push(2))).toBe(false);
    await nextTurn();
    expect(ran).toEqual([1, 2]);
    await nextTurn();
    expect(queue.run('192.0.2.1', () => ran.push(3))).toBe(true);
    expect(ran).toEqual([1, 2, 3]);
  });

  it('refuses a budget that would stop every connection', () => {
    expect(() => new NewConnectionQueue(0)).toThrow(RangeError);
  });
});
