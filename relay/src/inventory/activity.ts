import type { ServerEvents } from './events.js';

/**
 * How many console legs are live on each server, as the tree's badge shows
 * it: this replica's own (the streams plugin counts the legs it splices)
 * plus every other replica's, as they publish them (cluster/server-sessions.ts).
 * Kept in memory: the legs are live connections of the replicas, gone with
 * them. Every change is announced on ServerEvents, so /v1/events pushes the
 * server again (coalesced per tick there).
 */
export class ServerActivity {
  private readonly sessions = new Map<string, number>();
  /**
   * Other replicas' counts, per replica and server, with the sequence number of the message that said it
   * (a large message is fetched from the store and may be heard after a later one: the older is ignored).
   */
  private readonly remote = new Map<string, Map<string, { count: number; seq: number }>>();
  /** Where this replica's changed counts go (the other replicas). */
  private share: ((serverId: string, count: number) => void) | undefined;

  constructor(private readonly events: ServerEvents) {}

  of(serverId: string): { sessions: number } {
    let sessions = this.sessions.get(serverId) ?? 0;
    for (const counts of this.remote.values()) sessions += counts.get(serverId)?.count ?? 0;
    return { sessions };
  }

  sessionStarted(serverId: string): void {
    this.setLocal(serverId, (this.sessions.get(serverId) ?? 0) + 1);
  }

  sessionEnded(serverId: string): void {
    this.setLocal(serverId, Math.max(0, (this.sessions.get(serverId) ?? 0) - 1));
  }

  /** Hands every change of this replica's counts to `share` as well. */
  shareWith(share: (serverId: string, count: number) => void): void {
    this.share = share;
  }

  /** This replica's non-zero counts, for a replica that asks for all of them. */
  localCounts(): Array<[string, number]> {
    return [...this.sessions];
  }

  /**
   * Another replica's counts in its message number `seq`: every one of its servers when `full` (a replica
   * that just started asked; a server not named has none), else only those named. Zero counts are kept
   * (with their seq), so an older message heard late cannot bring a count back.
   */
  receive(replicaId: string, counts: ReadonlyArray<readonly [string, number]>, full: boolean, seq: number): void {
    let known = this.remote.get(replicaId);
    if (known === undefined) this.remote.set(replicaId, (known = new Map()));
    const changed = new Set<string>();
    const named = new Map(counts);
    const servers = full ? new Set([...known.keys(), ...named.keys()]) : named.keys();
    for (const serverId of servers) {
      const before = known.get(serverId);
      if (before !== undefined && before.seq >= seq) continue;
      const count = named.get(serverId) ?? 0;
      known.set(serverId, { count, seq });
      if ((before?.count ?? 0) !== count) changed.add(serverId);
    }
    if (changed.size > 0) this.events.receive({ changed: [...changed], removed: [] });
  }

  /** A replica went away: its legs went with it. */
  forget(replicaId: string): void {
    const known = this.remote.get(replicaId);
    if (known === undefined) return;
    this.remote.delete(replicaId);
    const changed = [...known].filter(([, { count }]) => count > 0).map(([serverId]) => serverId);
    if (changed.length > 0) this.events.receive({ changed, removed: [] });
  }

  private setLocal(serverId: string, count: number): void {
    if (count > 0) this.sessions.set(serverId, count);
    else this.sessions.delete(serverId);
    this.events.serversChanged([serverId]);
    this.share?.(serverId, count);
  }
}
