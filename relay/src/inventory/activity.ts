import type { PendingPower, PowerOutcome, ServerMediaBadge } from '@lightsout/shared';
import type { ServerEvents } from './events.js';

/**
 * What is going on at each server right now, as the tree's badges show it:
 * how many console legs are live through this relay (the streams plugin
 * counts them) and which virtual media image is mounted (the media plugin
 * tells). Kept in memory: it describes live connections and jobs of this
 * relay process. Every change is announced on ServerEvents, so /v1/events
 * pushes the server again (coalesced per tick there).
 */
export class ServerActivity {
  private readonly sessions = new Map<string, number>();
  private readonly media = new Map<string, ServerMediaBadge>();
  private readonly pendingPower = new Map<string, PendingPower>();
  private readonly lastPower = new Map<string, PowerOutcome>();

  constructor(private readonly events: ServerEvents) {}

  of(serverId: string): { sessions: number; media: ServerMediaBadge | null; pendingPower: PendingPower | null; lastPower: PowerOutcome | null } {
    return {
      sessions: this.sessions.get(serverId) ?? 0,
      media: this.media.get(serverId) ?? null,
      pendingPower: this.pendingPower.get(serverId) ?? null,
      lastPower: this.lastPower.get(serverId) ?? null,
    };
  }

  /** A power action accepted by the BMC and being confirmed (power-confirm.ts); null when it settled. */
  setPendingPower(serverId: string, pending: PendingPower | null, outcome?: PowerOutcome): void {
    if (pending) this.pendingPower.set(serverId, pending);
    else this.pendingPower.delete(serverId);
    if (outcome) this.lastPower.set(serverId, outcome);
    this.events.serversChanged([serverId]);
  }

  sessionStarted(serverId: string): void {
    this.sessions.set(serverId, (this.sessions.get(serverId) ?? 0) + 1);
    this.events.serversChanged([serverId]);
  }

  sessionEnded(serverId: string): void {
    const count = (this.sessions.get(serverId) ?? 0) - 1;
    if (count > 0) this.sessions.set(serverId, count);
    else this.sessions.delete(serverId);
    this.events.serversChanged([serverId]);
  }

  /** Announces only real changes: the media plugin reports every job step, most of which keep the same image. */
  setMedia(serverId: string, media: ServerMediaBadge | null): void {
    const current = this.media.get(serverId) ?? null;
    if (current?.filename === media?.filename && current?.since === media?.since && current?.by === media?.by) return;
    if (media) this.media.set(serverId, media);
    else this.media.delete(serverId);
    this.events.serversChanged([serverId]);
  }
}
