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
  /** Other replicas' counts, per replica: replaced by what each publishes, dropped when it is gone. */
  private readonly remote = new Map<string, Map<string, number>>();
  /** Where this replica's changed counts go (the other replicas). */
  private share: ((serverId: string, count: number) => void) | undefined;

  constructor(private readonly events: ServerEvents) {}

  of(serverId: string): { sessions: number } {
    let sessions = this.sessions.get(serverId) ?? 0;
    for (const counts of this.remote.values()) sessions += counts.get(serverId) ?? 0;
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

  /** Another replica's counts: every one of its servers when `full` (a replica that just started asked), else only those named. */
  receive(replicaId: string, counts: ReadonlyArray<readonly [string, number]>, full: boolean): void {
    let known = this.remote.get(replicaId);
    const changed = new Set<string>(full && known !== undefined ? known.keys() : []);
    if (full || known === undefined) this.remote.set(replicaId, (known = new Map()));
    for (const [serverId, count] of counts) {
      changed.add(serverId);
      if (count > 0) known.set(serverId, count);
      else known.delete(serverId);
    }
    if (known.size === 0) this.remote.delete(replicaId);
    if (changed.size > 0) this.events.receive({ changed: [...changed], removed: [] });
  }

  /** A replica went away: its legs went with it. */
  forget(replicaId: string): void {
    const known = this.remote.get(replicaId);
    if (known === undefined) return;
    this.remote.delete(replicaId);
    this.events.receive({ changed: [...known.keys()], removed: [] });
  }

  private setLocal(serverId: string, count: number): void {
    if (count > 0) this.sessions.set(serverId, count);
    else this.sessions.delete(serverId);
    this.events.serversChanged([serverId]);
    this.share?.(serverId, count);
  }
}
