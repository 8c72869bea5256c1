import { describe, expect, it } from 'vitest';
import { AttemptTurns } from './attempt-turns.js';

describe('AttemptTurns', () => {
  it('lets perKey attempts run on one key, the rest in arrival order as turns end; other keys are not held', async () => {
    const turns = new AttemptTurns(2);
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const attempt = (key: string, name: string) =>
      turns.take(key).then((release) => {
        started.push(name);
        releases.set(name, release);
      });
    const all = ['a1', 'a2', 'a3', 'a4'].map((name) => attempt('a', name));
    const other = attempt('b', 'b1');
    await Promise.all([all[0], all[1], other]);
    expect(started).toEqual(['a1', 'a2', 'b1']);
    releases.get('a2')!();
    releases.get('a2')!(); // ending a turn twice gives back one turn, not two
    await all[2];
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    releases.get('a1')!();
    await all[3];
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
    for (const name of ['a3', 'a4', 'b1']) releases.get(name)!();
    expect(turns.size).toBe(0);
  });
});
