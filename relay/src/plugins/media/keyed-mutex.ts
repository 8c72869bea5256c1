/**
 * One holder at a time per key, in arrival order, within this process.
 * Uploads of one tenant are created under it: the room left in the quota is
 * read and taken in one step, so creations at once cannot each see the same
 * room. (Across replicas the database takes that role: agent-uploads.ts.)
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Resolves once `key` is this caller's; call the returned function (once or more) to let go. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const tail = previous.then(() => held);
    this.tails.set(key, tail);
    await previous;
    return () => {
      letGo();
      // the last holder leaves no entry behind
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await work();
    } finally {
      release();
    }
  }
}
