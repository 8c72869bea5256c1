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

/** A change as it travels between replicas (cluster/server-events.ts). */
export interface SharedServerChange {
  changed: string[];
  /** [server id, tenant it belonged to] */
  removed: Array<[string, string]>;
}

export class ServerEvents {
  private readonly listeners = new Set<ServerChangeListener>();
  private changed = new Set<string>();
  private removed = new Map<string, string>();
  private scheduled = false;
  /** Where this replica's own changes also go (the other replicas), coalesced per tick like the local ones. */
  private share: ((change: SharedServerChange) => void) | undefined;
  private outbound = { changed: new Set<string>(), removed: new Map<string, string>() };
  private outboundScheduled = false;

  /** Hand every change made here to `share` as well; a change heard from elsewhere goes to `receive`. */
  shareWith(share: (change: SharedServerChange) => void): void {
    this.share = share;
  }

  /** A change another replica made: told to the subscribers here only. */
  receive(change: SharedServerChange): void {
    this.note(change.changed, change.removed.map(([id, tenant]) => ({ id, tenant })), false);
  }

  subscribe(listener: ServerChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribers here, plus the other replicas' when changes are shared (someone may listen there). */
  get subscriberCount(): number {
    return this.listeners.size + (this.share === undefined ? 0 : 1);
  }

  serversChanged(ids: Iterable<string>): void {
    this.note([...ids], [], true);
  }

  serversRemoved(entries: Iterable<{ id: string; tenant: string }>): void {
    this.note([], [...entries], true);
  }

  private note(changed: string[], removed: Array<{ id: string; tenant: string }>, ours: boolean): void {
    const local = { changed: this.changed, removed: this.removed };
    const sets = ours && this.share !== undefined ? [local, this.outbound] : [local];
    for (const target of sets) {
      for (const id of changed) {
        target.changed.add(id);
        target.removed.delete(id);
      }
      for (const { id, tenant } of removed) {
        target.removed.set(id, tenant);
        target.changed.delete(id);
      }
    }
    this.schedule();
    if (sets.length === 1 || this.outboundScheduled) return;
    this.outboundScheduled = true;
    setImmediate(() => {
      this.outboundScheduled = false;
      const { changed: out, removed: gone } = this.outbound;
      this.outbound = { changed: new Set(), removed: new Map() };
      if (out.size > 0 || gone.size > 0) this.share?.({ changed: [...out], removed: [...gone] });
    });
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
