/**
 * In-process notifications that servers changed (inventory, state, agent
 * online/offline) or disappeared. Coalesced per tick: a burst of state
 * messages becomes one notification with the set of ids.
 */
export interface ServerChange {
  changed: ReadonlySet<string>;
  /** Removed server ids with the tenant they belonged to (to tell only who could see them). */
  removed: ReadonlyMap<string, string>;
}

export type ServerChangeListener = (change: ServerChange) => void;

export class ServerEvents {
  private readonly listeners = new Set<ServerChangeListener>();
  private changed = new Set<string>();
  private removed = new Map<string, string>();
  private scheduled = false;

  subscribe(listener: ServerChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  serversChanged(ids: Iterable<string>): void {
    for (const id of ids) {
      this.changed.add(id);
      this.removed.delete(id);
    }
    this.schedule();
  }

  serversRemoved(entries: Iterable<{ id: string; tenant: string }>): void {
    for (const { id, tenant } of entries) {
      this.removed.set(id, tenant);
      this.changed.delete(id);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.listeners.size === 0) {
      if (this.listeners.size === 0) {
        this.changed.clear();
        this.removed.clear();
      }
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const change: ServerChange = { changed: this.changed, removed: this.removed };
      this.changed = new Set();
      this.removed = new Map();
      if (change.changed.size === 0 && change.removed.size === 0) return;
      for (const listener of this.listeners) listener(change);
    });
  }
}
