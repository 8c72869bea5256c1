import type { Socket } from 'node:net';
import type { SetTimer } from '@lightsout/shared';
import { registrantOf } from '../identity/client-registration.js';

/** What a connection may hold before it authenticates (OpenSSH's LoginGraceTime and MaxStartups). */
export interface PreAuthLimits {
  loginGraceMs: number;
  /** Unauthenticated connections from one address (an IPv6 /64 is one address); one more is dropped at once. */
  perAddress: number;
  /** Unauthenticated connections in all; one more is dropped at once. */
  total: number;
}

/**
 * The front door's admission of TCP connections, before ssh2 sees a byte:
 * at most `perAddress` and `total` connections may be unauthenticated at
 * once (one more is dropped at accept), and each has `loginGraceMs` to
 * authenticate. A client that connects and says nothing, or stalls the key
 * exchange, so holds a place for a bounded time, and a flood of them from
 * one address cannot take every place. An IPv6 client is counted by its /64:
 * one subscriber is given at least that much (RFC 6177), so counting each
 * address apart would let it take every place. An IPv4-mapped address
 * (`::ffff:a.b.c.d`, a dual-stack listener's view of an IPv4 client) counts
 * as its IPv4 address.
 *
 * Per connection: admitted ─authenticated→ released      admitted ─grace over→ dropped
 *                 admitted ─closed→ released              (over a limit) → dropped at once
 */
export class PreAuthGate {
  private readonly perAddress = new Map<string, number>();
  private readonly waiting = new Map<string, () => void>();
  private total = 0;

  constructor(
    private readonly limits: PreAuthLimits,
    private readonly setTimer: SetTimer,
    private readonly onDropped: (address: string, reason: 'limit' | 'grace') => void,
  ) {}

  get unauthenticated(): number {
    return this.total;
  }

  /** A new TCP connection: counted and timed, or destroyed when a limit is reached. Returns whether it was admitted. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const unit = registrantOf(address);
    if ((this.perAddress.get(unit) ?? 0) >= this.limits.perAddress || this.total >= this.limits.total) {
      this.onDropped(address, 'limit');
      socket.destroy();
      return false;
    }
    this.perAddress.set(unit, (this.perAddress.get(unit) ?? 0) + 1);
    this.total += 1;
    const name = connectionName(address, socket.remotePort);
    let counted = true;
    const cancelGrace = this.setTimer(() => {
      this.onDropped(address, 'grace');
      socket.destroy();
    }, this.limits.loginGraceMs);
    const release = () => {
      if (!counted) return;
      counted = false;
      cancelGrace();
      this.waiting.delete(name);
      this.total -= 1;
      const left = (this.perAddress.get(unit) ?? 1) - 1;
      if (left === 0) this.perAddress.delete(unit);
      else this.perAddress.set(unit, left);
    };
    this.waiting.set(name, release);
    socket.once('close', release);
    return true;
  }

  /** The connection from `address`:`port` authenticated: it no longer counts, and has no more deadline. */
  authenticated(address: string, port: number | undefined): void {
    this.waiting.get(connectionName(address, port))?.();
  }
}

function connectionName(address: string, port: number | undefined): string {
  return `${address}|${port ?? 0}`;
}
