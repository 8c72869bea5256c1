import { randomBytes } from 'node:crypto';

/**
 * A web session's own origin: `<sessionId>.<domain>`. Host names are
 * case-insensitive and browsers lower-case them, so a web session's id is
 * lower-case base32 (RFC 4648 §6 alphabet), 22 characters = 110 bits: a DNS
 * label, and still a stream session id (`SESSION_ID_PATTERN`).
 */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const WEB_SESSION_ID_LENGTH = 22;
const WEB_SESSION_ID = /^[a-z2-7]{22}$/;

export function newWebSessionId(): string {
  const bytes = randomBytes(WEB_SESSION_ID_LENGTH);
  let id = '';
  for (const byte of bytes) id += BASE32[byte & 31];
  return id;
}

/** Where the sessions are served: `https://<id>.bmc.example.net` (the port only when it is not the scheme's). */
export interface WebOrigins {
  scheme: 'https' | 'http';
  domain: string;
  port: number;
}

export function originOf(origins: WebOrigins, sessionId: string): string {
  const defaultPort = origins.scheme === 'https' ? 443 : 80;
  return `${origins.scheme}://${sessionId}.${origins.domain}${origins.port === defaultPort ? '' : `:${origins.port}`}`;
}

/** The session a request's Host names, or undefined: another name, a port of another listener, or not one of our ids. */
export function sessionOfHost(host: string | undefined, origins: WebOrigins): string | undefined {
  if (host === undefined) return undefined;
  const match = /^([^:]+)(?::(\d+))?$/.exec(host.toLowerCase());
  if (match === null) return undefined;
  const [, name, port] = match;
  // Behind the TLS proxy the Host may carry the public port or none; a port that is neither is another origin.
  if (port !== undefined && Number(port) !== origins.port) return undefined;
  const suffix = `.${origins.domain}`;
  if (!name!.endsWith(suffix)) return undefined;
  const label = name!.slice(0, -suffix.length);
  return WEB_SESSION_ID.test(label) ? label : undefined;
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    if (pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}
