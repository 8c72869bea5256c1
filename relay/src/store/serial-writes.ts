/**
 * Runs the writes of one key one after another, in the order they were
 * asked for, while writes of different keys run side by side. A server's
 * rows change from several places at once (a media job's steps, an agent's
 * presence coming and going); without an order per key, a later state can
 * reach the store first and an earlier one then overwrite it.
 *
 * A write that fails does not stop the ones after it: each is its own
 * statement, and the caller of the failed one hears of it.
 */
export class SerialWrites<Key> {
  private readonly tails = new Map<Key, Promise<unknown>>();

  /** Runs `write` once every write asked for earlier under `key` has settled; resolves or rejects as it does. */
  run<T>(key: Key, write: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(write, write);
    this.tails.set(key, next);
    const forget = () => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    };
    next.then(forget, forget);
    return next;
  }

  /** Every write asked for under `key` so far has settled (failed ones too). */
  async settled(key: Key): Promise<void> {
    await this.tails.get(key)?.catch(() => undefined);
  }

  /** Keys with a write queued or running. */
  get pending(): number {
    return this.tails.size;
  }
}
