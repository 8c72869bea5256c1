import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { BmcUser } from '../bmc/config.js';

/**
 * Redfish sessions (DSP0266 §13.3.4): an opaque X-Auth-Token per login, an
 * idle timeout, and an optional absolute lifetime (the "401 mid-session"
 * fault). Expired sessions are swept lazily on lookup, so no timer runs.
 */
interface Session {
  id: string;
  token: string;
  user: BmcUser;
  createdAt: number;
  lastUsedAt: number;
}

const MAX_SESSIONS = 64;

export class SessionStore {
  private readonly byToken = new Map<string, Session>();

  constructor(
    private readonly now: () => number,
    private readonly idleTimeoutMs: number,
    private readonly absoluteLifetimeMs: number,
  ) {}

  create(user: BmcUser): Session | undefined {
    this.sweep();
    if (this.byToken.size >= MAX_SESSIONS) return undefined;
    const session: Session = { id: randomUUID().slice(0, 10), token: randomBytes(20).toString('hex'), user, createdAt: this.now(), lastUsedAt: this.now() };
    this.byToken.set(session.token, session);
    return session;
  }

  authenticate(token: string): Session | undefined {
    this.sweep();
    const session = this.byToken.get(token);
    if (session) session.lastUsedAt = this.now();
    return session;
  }

  ids(): string[] {
    this.sweep();
    return [...this.byToken.values()].map((session) => session.id);
  }

  find(id: string): Session | undefined {
    this.sweep();
    return [...this.byToken.values()].find((session) => session.id === id);
  }

  delete(id: string): boolean {
    const session = this.find(id);
    if (session) this.byToken.delete(session.token);
    return session !== undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, session] of this.byToken) {
      const idle = now - session.lastUsedAt > this.idleTimeoutMs;
      const expired = this.absoluteLifetimeMs > 0 && now - session.createdAt > this.absoluteLifetimeMs;
      if (idle || expired) this.byToken.delete(token);
    }
  }
}

export function checkPassword(users: readonly BmcUser[], name: string, password: string): BmcUser | undefined {
  const user = users.find((candidate) => candidate.name === name);
  if (!user) return undefined;
  const expected = Buffer.from(user.password);
  const given = Buffer.from(password);
  return expected.length === given.length && timingSafeEqual(expected, given) ? user : undefined;
}
