import type { CipherSuite, ReplayWindow, RmcpPlusSecurity } from '@lightsout/bmc-wire/ipmi';
import type { BmcUser } from '../bmc/config.js';
import type { CommandSession } from './commands.js';
import type { Remote } from './transport.js';

/**
 * Session records of one BMC. An RMCP+ session walks
 *   opened (Open Session answered) → challenged (RAKP 2 sent) → active (RAKP 4 sent) → closed,
 * a v1.5 session is created active by Activate Session. Every state ends in
 * `remove()`; idle sessions are swept after the timeout, and the sweep timer
 * runs only while at least one session exists.
 */
export interface RmcpPlusSession extends CommandSession {
  kind: 'rmcp+';
  state: 'opened' | 'challenged' | 'active';
  consoleSessionId: number;
  suite: CipherSuite;
  remote: Remote;
  lastActivity: number;
  user: BmcUser | undefined;
  role: number;
  consoleRandom: Uint8Array;
  bmcRandom: Uint8Array;
  security: RmcpPlusSecurity | undefined;
  outboundSequence: number;
  replay: ReplayWindow;
}

export interface V15Session extends CommandSession {
  kind: 'v1.5';
  authType: 'md5' | 'straight';
  user: BmcUser;
  remote: Remote;
  lastActivity: number;
  outboundSequence: number;
  replay: ReplayWindow;
}

export interface V15Challenge {
  user: BmcUser;
  authType: 'md5' | 'straight';
  challenge: Uint8Array;
  createdAt: number;
}

export type LanSession = RmcpPlusSession | V15Session;

export const MAX_SESSIONS = 32;

export class SessionTable {
  readonly sessions = new Map<number, LanSession>();
  readonly challenges = new Map<number, V15Challenge>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly now: () => number,
    private readonly timeoutMs: number,
    private readonly onRemove: (session: LanSession) => void,
  ) {}

  /** A fresh non-zero ID not in use (IPMI v2.0 §13.17: 0 is reserved). */
  newId(random: () => number): number {
    for (let attempt = 0; attempt < 100; attempt++) {
      const id = random() >>> 0;
      if (id !== 0 && !this.sessions.has(id) && !this.challenges.has(id)) return id;
    }
    throw new Error('no free session ID');
  }

  add(session: LanSession): void {
    const id = session.sessionId;
    this.sessions.set(id, session);
    this.ensureSweeper();
  }

  addChallenge(id: number, challenge: V15Challenge): void {
    // Unanswered challenges are bounded like sessions so a flood cannot grow the map.
    if (this.challenges.size >= MAX_SESSIONS) this.challenges.delete(this.challenges.keys().next().value!);
    this.challenges.set(id, challenge);
    this.ensureSweeper();
  }

  remove(id: number): boolean {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    this.onRemove(session);
    this.stopSweeperIfIdle();
    return true;
  }

  dispose(): void {
    for (const id of [...this.sessions.keys()]) this.remove(id);
    this.challenges.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private ensureSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.min(5000, Math.max(100, this.timeoutMs / 4)));
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (now - session.lastActivity > this.timeoutMs) this.remove(id);
    for (const [id, challenge] of this.challenges) if (now - challenge.createdAt > this.timeoutMs) this.challenges.delete(id);
    this.stopSweeperIfIdle();
  }

  private stopSweeperIfIdle(): void {
    if (this.sessions.size === 0 && this.challenges.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
