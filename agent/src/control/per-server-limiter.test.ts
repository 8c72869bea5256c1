import { describe, expect, it } from 'vitest';
import { DEFAULT_QUEUED_PER_SERVER, PerServerLimiter } from './per-server-limiter.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('PerServerLimiter', () => {
  it("runs at most `limit` operations per server; another server's run at once", async () => {
    const limiter = new PerServerLimiter(2);
    const gates = [deferred(), deferred(), deferred()];
    const started: string[] = [];
    const signal = new AbortController().signal;
    const runs = gates.map((gate, index) =>
      limiter.run('flooded', signal, async () => {
        started.push(`flooded-${index}`);
        await gate.promise;
      }),
    );
    await limiter.run('quiet', signal, async () => void started.push('quiet'));
    expect(started).toEqual(['flooded-0', 'flooded-1', 'quiet']);
    expect(limiter.queued('flooded')).toBe(1);
    gates[0]!.resolve();
    gates[1]!.resolve();
    gates[2]!.resolve();
    await Promise.all(runs);
    expect(started).toContain('flooded-2');
    expect(limiter.running('flooded')).toBe(0);
  });

  it('drops a waiter whose caller gave up, without running it', async () => {
    const limiter = new PerServerLimiter(1);
    const gate = deferred();
    const first = limiter.run('s', new AbortController().signal, () => gate.promise);
    const giveUp = new AbortController();
    let ran = false;
    const waiting = limiter.run('s', giveUp.signal, async () => void (ran = true));
    giveUp.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'BMC_BUSY' });
    expect(limiter.queued('s')).toBe(0);
    gate.resolve();
    await first;
    expect(ran).toBe(false);
  });

  it('refuses at once with BMC_BUSY beyond `maxQueued` waiting, and reports the first refusal of a burst once', async () => {
    const full: Array<{ key: string; running: number; queued: number }> = [];
    const limiter = new PerServerLimiter(1, { maxQueued: 2, onFull: (key, load) => full.push({ key, ...load }) });
    const gate = deferred();
    const signal = new AbortController().signal;
    const accepted = [0, 1, 2].map(() => limiter.run('s', signal, () => gate.promise));
    let ran = false;
    await expect(limiter.run('s', signal, async () => void (ran = true))).rejects.toMatchObject({ code: 'BMC_BUSY', message: 's has 1 operation running and 2 waiting; try again shortly' });
    await expect(limiter.run('s', signal, async () => void (ran = true))).rejects.toMatchObject({ code: 'BMC_BUSY' });
    expect(ran).toBe(false);
    expect(limiter.queued('s')).toBe(2);
    expect(full).toEqual([{ key: 's', running: 1, queued: 2 }]);
    // Another server is not affected.
    await limiter.run('other', signal, async () => undefined);
    gate.resolve();
    await Promise.all(accepted);
    // The burst is over once the queue has drained: the next refusal is reported again.
    const again = deferred();
    const next = [0, 1, 2].map(() => limiter.run('s', signal, () => again.promise));
    await expect(limiter.run('s', signal, async () => undefined)).rejects.toMatchObject({ code: 'BMC_BUSY' });
    expect(full).toHaveLength(2);
    again.resolve();
    await Promise.all(next);
  });

  it('keeps 64 waiting per server by default', () => {
    expect(DEFAULT_QUEUED_PER_SERVER).toBe(64);
    expect(new PerServerLimiter(2).maxQueued).toBe(64);
  });
});
