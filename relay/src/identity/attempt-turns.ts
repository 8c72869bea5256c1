/**
 * Sign-in attempts taken in turn per key: at most `perKey` at once, the
 * rest wait in arrival order. The throttle reads a key's failures before an
 * attempt and counts them after its password was checked; attempts let in
 * together would all read the count of before any of them failed, and a
 * guesser sending dozens at once would get dozens of guesses per lock
 * window. In turn, each attempt reads what the one before it wrote.
 *
 * Per process: replicas of one deployment each take their own turns, so a
 * guesser spreading attempts over N replicas gets at most N − 1 guesses
 * more than the allowance per lock window (docs/security.md).
 */
export class AttemptTurns {
  private readonly keys = new Map<string, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly perKey: number) {}

  /** Resolves when it is this attempt's turn on `key`; call the function it gives once the attempt is over. */
  async take(key: string): Promise<() => void> {
    let entry = this.keys.get(key);
    if (entry === undefined) {
      entry = { running: 0, waiting: [] };
      this.keys.set(key, entry);
    }
    if (entry.running >= this.perKey) await new Promise<void>((resolve) => entry.waiting.push(resolve));
    else entry.running += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.waiting.shift();
      // The turn passes straight to the next waiter (`running` unchanged); with none, it is given back.
      if (next !== undefined) next();
      else if (--entry.running === 0) this.keys.delete(key);
    };
  }

  /** Keys with attempts running or waiting (tests: nothing is kept once they are over). */
  get size(): number {
    return this.keys.size;
  }
}
