import { isIPv6 } from 'node:net';

/**
 * Bounds on open dynamic client registration (RFC 7591 without an initial
 * access token, as the MCP authorization specification has clients
 * register). Anyone who reaches the relay may register, so what they can
 * make it keep is bounded three ways: registrations per source address per
 * hour, registered clients in all, and how long a client nobody signed in
 * with is kept (docs/security.md "Open client registration").
 */

/** Ids of clients that registered themselves: the prefix tells them from the pre-registered ones everywhere. */
export const REGISTERED_CLIENT_PREFIX = 'mcp-dcr-';

/**
 * A registered client nobody has signed in with is deleted after a day.
 * One that got a grant is kept as long as its longest grant or refresh
 * token lives (the adapter extends it when either is stored).
 */
export const UNUSED_REGISTRATION_TTL_SECONDS = 24 * 3600;

/**
 * Whether a request path (as the relay receives it, before `/oidc` is cut
 * off) reaches oidc-provider's registration endpoint. Its router matches
 * paths case-insensitively and with or without a trailing slash
 * (`/oidc/REG/` registers a client as `/oidc/reg` does), so the bounds are
 * applied to every spelling it takes, not to one.
 */
export function isRegistrationPath(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return path.toLowerCase().replace(/\/+$/, '') === '/oidc/reg';
}

export function isRegisteredClientId(clientId: unknown): clientId is string {
  return typeof clientId === 'string' && clientId.startsWith(REGISTERED_CLIENT_PREFIX);
}

/**
 * The unit one party registers from: an IPv4 address, or an IPv6 /64 (one
 * subscriber's prefix, RFC 6177 — an attacker holding a /64 must not count
 * as 2^64 parties).
 */
export function registrantOf(address: string): string {
  if (!isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/**
 * At most `perHour` registrations per registrant in a rolling hour, and at
 * most `maxRegistrants` registrants remembered at once: when that many sent
 * registrations within the hour, registration is refused to newcomers until
 * the oldest age out (fails closed; the pre-registered MCP client and API
 * tokens are unaffected), so the window itself cannot be grown without bound.
 */
export class RegistrationWindow {
  private readonly seen = new Map<string, number[]>();

  constructor(
    private readonly perHour: number,
    private readonly maxRegistrants = 10_000,
  ) {}

  admit(address: string, now = Date.now()): boolean {
    const since = now - 3_600_000;
    const key = registrantOf(address);
    const times = (this.seen.get(key) ?? []).filter((time) => time >= since);
    if (times.length >= this.perHour) return false;
    if (times.length === 0 && !this.seen.has(key) && this.seen.size >= this.maxRegistrants) {
      this.forgetBefore(since);
      if (this.seen.size >= this.maxRegistrants) return false;
    }
    times.push(now);
    this.seen.set(key, times);
    return true;
  }

  get registrants(): number {
    return this.seen.size;
  }

  private forgetBefore(since: number): void {
    for (const [key, times] of this.seen) if (times.at(-1)! < since) this.seen.delete(key);
  }
}
