import { describe, expect, it } from 'vitest';
import { Slots } from './slots.js';

/** A task that runs until the test ends it. */
function heldTask(started: string[], name: string) {
  let finish!: (outcome: { fail?: boolean }) => void;
  const ended = new Promise<{ fail?: boolean }>((resolve) => (finish = resolve));
  const task = async () => {
    started.push(name);
    const { fail } = await ended;
    if (fail) throw new Error(`${name} failed`);
    return name;
  };
  return { task, finish };
}

describe('Slots', () => {
  it('runs at most its limit at once and hands each freed turn to the longest waiting', async () => {
    const slots = new Slots(2);
    const started: string[] = [];
    const tasks = ['a', 'b', 'c', 'd'].map((name) => heldTask(started, name));
    const results = tasks.map(({ task }) => slots.run(task));
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    expect([slots.inFlight, slots.queued]).toEqual([2, 2]);
    tasks[1]!.finish({});
    expect(await results[1]).toBe('b');
    expect(started).toEqual(['a', 'b', 'c']);
    expect([slots.inFlight, slots.queued]).toEqual([2, 1]);
    // A task that fails gives its turn back too.
    tasks[0]!.finish({ fail: true });
    await expect(results[0]).rejects.toThrow('a failed');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    tasks[2]!.finish({});
    tasks[3]!.finish({});
    expect(await Promise.all([results[2], results[3]])).toEqual(['c', 'd']);
    expect([slots.inFlight, slots.queued]).toEqual([0, 0]);
  });

  it('lets a task whose caller gave up leave the queue without running, and gives the turn to the next', async () => {
    const slots = new Slots(1);
    const started: string[] = [];
    const tasks = ['a', 'b', 'c'].map((name) => heldTask(started, name));
    const gaveUp = new AbortController();
    const results = [slots.run(tasks[0]!.task), slots.run(tasks[1]!.task, gaveUp.signal), slots.run(tasks[2]!.task)];
    await Promise.resolve();
    expect([slots.inFlight, slots.queued]).toEqual([1, 2]);
    gaveUp.abort(new Error('b is not wanted any more'));
    await expect(results[1]).rejects.toThrow('b is not wanted any more');
    expect([slots.inFlight, slots.queued]).toEqual([1, 1]);
    tasks[0]!.finish({});
    expect(await results[0]).toBe('a');
    tasks[2]!.finish({});
    expect(await results[2]).toBe('c');
    // b never ran: its turn went to c.
    expect(started).toEqual(['a', 'c']);
    expect([slots.inFlight, slots.queued]).toEqual([0, 0]);
    // Given up before it asked: it does not run, and takes no turn.
    await expect(slots.run(tasks[1]!.task, gaveUp.signal)).rejects.toThrow('b is not wanted any more');
    expect(started).toEqual(['a', 'c']);
    expect([slots.inFlight, slots.queued]).toEqual([0, 0]);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => new Slots(limit)).toThrow(RangeError);
  });
});
