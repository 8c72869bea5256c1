/**
 * Broadcast typing: keystrokes typed into one SOL console that has broadcast
 * on go to every other console with broadcast on (same command on many
 * servers at once). Members join with a writer and leave on unmount.
 */
export class BroadcastGroup {
  readonly #members = new Map<string, (bytes: Uint8Array) => void>();
  readonly #listeners = new Set<(size: number) => void>();

  join(memberId: string, write: (bytes: Uint8Array) => void): () => void {
    this.#members.set(memberId, write);
    this.#notify();
    return () => {
      if (this.#members.get(memberId) === write) this.#members.delete(memberId);
      this.#notify();
    };
  }

  get size(): number {
    return this.#members.size;
  }

  /** Sends to every member but the sender; returns how many received it. */
  send(fromMemberId: string, bytes: Uint8Array): number {
    if (!this.#members.has(fromMemberId)) return 0;
    let count = 0;
    for (const [memberId, write] of this.#members) {
      if (memberId === fromMemberId) continue;
      write(bytes);
      count++;
    }
    return count;
  }

  onSize(listener: (size: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const listener of this.#listeners) listener(this.#members.size);
  }
}

/** One group per window. */
export const solBroadcast = new BroadcastGroup();
