import { describe, expect, it } from 'vitest';
import { SerialWrites } from './serial-writes.js';

/** A write that finishes when the test says so. */
function gate(): { promise: Promise<void>; open: () => void; fail: (error: Error) => void } {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe('SerialWrites', () => {
  it("runs one key's writes in the order asked, each after the one before has settled, and other keys beside them", async () => {
    const writes = new SerialWrites<string>();
    const started: string[] = [];
    const first = gate();
    const done = [
      writes.run('a', async () => {
        started.push('a1');
        await first.promise;
      }),
      writes.run('a', async () => {
        started.push('a2');
      }),
      writes.run('b', async () => {
        started.push('b1');
      }),
    ];
    await done[2];
    expect(started).toEqual(['a1', 'b1']);
    first.open();
    await Promise.all(done);
    expect(started).toEqual(['a1', 'b1', 'a2']);
  });

  it('goes on after a failed write, whose caller hears of it; settled() waits for all and does not throw', async () => {
    const writes = new SerialWrites<string>();
    const failing = gate();
    const order: string[] = [];
    const failed = writes.run('a', async () => {
      await failing.promise;
    });
    const after = writes.run('a', async () => {
      order.push('after');
      return 7;
    });
    const settled = writes.settled('a').then(() => order.push('settled'));
    failing.fail(new Error('the store is down'));
    await expect(failed).rejects.toThrow('the store is down');
    await expect(after).resolves.toBe(7);
    await settled;
    expect(order).toEqual(['after', 'settled']);
  });

  it('forgets a key once its last write has settled', async () => {
    const writes = new SerialWrites<string>();
    const one = gate();
    const running = writes.run('a', () => one.promise);
    expect(writes.pending).toBe(1);
    one.open();
    await running;
    await writes.settled('a');
    expect(writes.pending).toBe(0);
  });
});
