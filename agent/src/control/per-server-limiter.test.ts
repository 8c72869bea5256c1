import { describe, expect, it } from 'vitest';
import { PerServerLimiter } from './per-server-limiter.js';

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
});
