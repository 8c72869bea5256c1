import type { ServerConsoleHolder } from '@lightsout/shared';
import type { ServerEvents } from './events.js';

/**
 * [server id, live legs, subjects holding a console leg there, the legs as the server's page shows them] as a
 * replica reports them (the fourth is absent from an older replica: its legs count, and are listed by nobody).
 */
export type SessionCount = [serverId: string, count: number, holders?: string[], consoles?: ServerConsoleHolder[]];

/**
 * How many console legs are live on each server, as the tree's badge shows
 * it, and who holds them (opening a console someone else holds, with
 * control, is a takeover): this replica's own (the streams plugin counts the legs it splices)
 * plus every other replica's, as they publish them (cluster/server-sessions.ts).
 * Kept in memory: the legs are live connections of the replicas, gone with
 * them. Every change is announced on ServerEvents, so /v1/events pushes the
 * server again (coalesced per tick there).
 */
export class ServerActivity {
  private readonly sessions = new Map<string, number>();
  /** Per server, this replica's console legs per subject holding them (web UI streams hold nothing). */
  private readonly holders = new Map<string, Map<string, number>>();
  /** Per server, this replica's console legs as the server's page lists them (one object per leg, web UI streams too). */
  private readonly consoles = new Map<string, ServerConsoleHolder[]>();
  /**
   * Other replicas' counts, per replica and server, with the sequence number of the message that said it
   * (a large message is fetched from the store and may be heard after a later one: the older is ignored).
   */
  private readonly remote = new Map<string, Map<string, { count: number; holders: string[]; consoles: ServerConsoleHolder[]; seq: number }>>();
  /** Where this replica's changed counts go (the other replicas). */
  private share: ((entry: SessionCount) => void) | undefined;

  constructor(private readonly events: ServerEvents) {}

  of(serverId: string): { sessions: number } {
    let sessions = this.sessions.get(serverId) ?? 0;
    for (const counts of this.remote.values()) sessions += counts.get(serverId)?.count ?? 0;
    return { sessions };
  }

  /** Who is on the server's consoles at every replica, oldest leg first. */
  consolesOf(serverId: string): ServerConsoleHolder[] {
    const all = [...(this.consoles.get(serverId) ?? [])];
    for (const counts of this.remote.values()) all.push(...(counts.get(serverId)?.consoles ?? []));
    return all.sort((a, b) => a.since.localeCompare(b.since));
  }

  /**
   * `holder`: the subject whose console leg this is (none for a web UI stream); `leg`: the leg as the server's page
   * lists it, the same object handed to sessionEnded.
   */
  sessionStarted(serverId: string, holder?: string, leg?: ServerConsoleHolder): void {
    if (leg !== undefined) this.consoles.set(serverId, [...(this.consoles.get(serverId) ?? []), leg]);
    if (holder !== undefined) {
      let subjects = this.holders.get(serverId);
      if (subjects === undefined) this.holders.set(serverId, (subjects = new Map()));
      subjects.set(holder, (subjects.get(holder) ?? 0) + 1);
    }
    this.setLocal(serverId, (this.sessions.get(serverId) ?? 0) + 1);
  }

  sessionEnded(serverId: string, holder?: string, leg?: ServerConsoleHolder): void {
    const legs = leg === undefined ? undefined : this.consoles.get(serverId)?.filter((other) => other !== leg);
    if (legs !== undefined) {
      if (legs.length > 0) this.consoles.set(serverId, legs);
      else this.consoles.delete(serverId);
    }
    const subjects = holder === undefined ? undefined : this.holders.get(serverId);
    if (subjects !== undefined && holder !== undefined) {
      const left = (subjects.get(holder) ?? 0) - 1;
      if (left > 0) subjects.set(holder, left);
      else subjects.delete(holder);
      if (subjects.size === 0) this.holders.delete(serverId);
    }
    this.setLocal(serverId, Math.max(0, (this.sessions.get(serverId) ?? 0) - 1));
  }

  /** Whether someone other than `subject` holds a console leg on the server at another replica. */
  heldElsewhere(serverId: string, subject: string): boolean {
    for (const counts of this.remote.values()) if (counts.get(serverId)?.holders.some((holder) => holder !== subject)) return true;
    return false;
  }

  /** Hands every change of this replica's counts to `share` as well. */
  shareWith(share: (entry: SessionCount) => void): void {
    this.share = share;
  }

  /** This replica's non-zero counts, for a replica that asks for all of them. */
  localCounts(): SessionCount[] {
    return [...this.sessions.keys()].map((serverId) => this.entryOf(serverId));
  }

  /**
   * Another replica's counts in its message number `seq`: every one of its servers when `full` (a replica
   * that just started asked; a server not named has none), else only those named. Zero counts are kept
   * (with their seq), so an older message heard late cannot bring a count back.
   */
  receive(replicaId: string, counts: readonly SessionCount[], full: boolean, seq: number): void {
    let known = this.remote.get(replicaId);
    if (known === undefined) this.remote.set(replicaId, (known = new Map()));
    const changed = new Set<string>();
    const named = new Map(counts.map(([serverId, count, holders, consoles]) => [serverId, { count, holders: holders ?? [], consoles: consoles ?? [] }]));
    const servers = full ? new Set([...known.keys(), ...named.keys()]) : named.keys();
    for (const serverId of servers) {
      const before = known.get(serverId);
      if (before !== undefined && before.seq >= seq) continue;
      const { count, holders, consoles } = named.get(serverId) ?? { count: 0, holders: [], consoles: [] };
      known.set(serverId, { count, holders, consoles, seq });
      // A leg that ended as another started leaves the count as it was: the page's list changed all the same.
      if ((before?.count ?? 0) !== count || JSON.stringify(before?.consoles ?? []) !== JSON.stringify(consoles)) changed.add(serverId);
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
    this.share?.(this.entryOf(serverId));
  }

  private entryOf(serverId: string): SessionCount {
    return [serverId, this.sessions.get(serverId) ?? 0, [...(this.holders.get(serverId)?.keys() ?? [])], this.consoles.get(serverId) ?? []];
  }
}
