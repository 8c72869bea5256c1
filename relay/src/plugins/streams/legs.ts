import { randomBytes } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';
import type { WebSocket } from 'ws';
import { type HeldMessages, hold } from './splice.js';

export interface DialedLeg {
  socket: WebSocket;
  early: HeldMessages;
}

interface PendingLeg {
  agentId: string;
  sessionId: string;
  resolve(leg: DialedLeg): void;
  reject(error: LightsoutError): void;
  timer: NodeJS.Timeout;
}

/**
 * Legs the relay has asked an agent to dial back for. An entry lives from
 * `stream.open` until the agent's WebSocket arrives or the wait times out;
 * only the agent the session's token names may claim it. Nothing here has to
 * survive a restart: a client that reconnects creates a new leg.
 */
export class PendingLegs {
  private readonly legs = new Map<string, PendingLeg>();

  get size(): number {
    return this.legs.size;
  }

  expect(agentId: string, sessionId: string, timeoutMs: number): { legId: string; socket: Promise<DialedLeg>; cancel(): void } {
    const legId = randomBytes(12).toString('base64url');
    let cancel = () => {};
    const socket = new Promise<DialedLeg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.legs.delete(legId);
        reject(new LightsoutError('AGENT_TIMEOUT', `agent ${agentId} did not dial back within ${timeoutMs} ms`));
      }, timeoutMs);
      this.legs.set(legId, { agentId, sessionId, resolve, reject, timer });
      cancel = () => {
        const leg = this.legs.get(legId);
        if (!leg) return;
        clearTimeout(leg.timer);
        this.legs.delete(legId);
      };
    });
    // The caller may have gone before anyone awaits; never an unhandled rejection.
    socket.catch(() => {});
    return { legId, socket, cancel };
  }

  /** Checked before the upgrade: is this agent allowed to dial back on this leg? */
  authorize(legId: string, agentId: string, sessionId: string): void {
    const leg = this.legs.get(legId);
    if (!leg) throw new LightsoutError('NOT_FOUND', 'no such stream leg is waiting');
    if (leg.agentId !== agentId || leg.sessionId !== sessionId) {
      throw new LightsoutError('FORBIDDEN', 'this stream leg belongs to another agent or session');
    }
  }

  /** The agent's WebSocket is up: hand it to the waiting client; false when nobody waits any more. */
  deliver(legId: string, agentId: string, socket: WebSocket): boolean {
    const leg = this.legs.get(legId);
    if (!leg || leg.agentId !== agentId) return false;
    clearTimeout(leg.timer);
    this.legs.delete(legId);
    socket.pause();
    leg.resolve({ socket, early: hold(socket) });
    return true;
  }

  fail(legId: string, error: LightsoutError): void {
    const leg = this.legs.get(legId);
    if (!leg) return;
    clearTimeout(leg.timer);
    this.legs.delete(legId);
    leg.reject(error);
  }

  clear(): void {
    for (const [legId] of this.legs) this.fail(legId, new LightsoutError('AGENT_OFFLINE', 'relay is stopping'));
  }
}
