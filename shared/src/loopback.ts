/**
 * Whether a URL's host name never leaves this machine: 127.0.0.0/8, ::1
 * (bracketed as URL.hostname gives it, or bare), `localhost` and
 * `*.localhost` (RFC 6761 §6.3). Plain http is only safe to such a host:
 * bearer tokens cross every other path readable (RFC 6750 §5.3).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === '::1' || host === 'localhost' || host.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
