import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Headers between the browser (on the session's origin) and the BMC (on its
 * own origin, reached through the agent). Bodies are never read: what a BMC
 * needs to accept a request is its own Host, Origin and Referer, and what a
 * browser needs is Location and cookies that belong to the session's origin.
 */

/** The relay's own cookie on a session's origin: checked here, never passed to the BMC. */
export const WEB_COOKIE = 'lightsout_web';

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy ones browsers still send. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface Origins {
  /** `https://<id>.bmc.example.net[:port]` */
  session: string;
  /** `https://10.0.0.5[:port]`, as the agent's config names the BMC's web UI. */
  bmc: string;
}

/** `to` + what follows `from` in `value`, when `value` is `from` or starts with `from/`. */
function reroot(value: string, from: string, to: string): string | undefined {
  if (value === from) return to;
  if (value.startsWith(`${from}/`) || value.startsWith(`${from}?`)) return to + value.slice(from.length);
  return undefined;
}

/** Drops our cookie from a Cookie header; undefined when nothing else is left. */
export function withoutWebCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const kept = header.split(';').filter((pair) => pair.split('=')[0]!.trim() !== WEB_COOKIE && pair.trim() !== '');
  return kept.length === 0 ? undefined : kept.map((pair) => pair.trim()).join('; ');
}

/**
 * The browser's request headers as the BMC should see them: its own Host,
 * Origin and Referer (BMCs check both against CSRF and cross-origin
 * WebSockets), without our cookie or the browser's hop-by-hop fields. A
 * WebSocket upgrade keeps its Connection and Upgrade.
 */
export function requestHeadersForBmc(headers: IncomingHttpHeaders, origins: Origins, upgrade: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'host' || name === 'cookie') continue;
    // What the browser says about where it came from belongs to the relay's side; the BMC learns nothing of it.
    if (name === 'forwarded' || name.startsWith('x-forwarded-')) continue;
    out[name] = value;
  }
  out.host = new URL(origins.bmc).host;
  const cookie = withoutWebCookie(headers.cookie);
  if (cookie !== undefined) out.cookie = cookie;
  if (typeof headers.origin === 'string') out.origin = reroot(headers.origin, origins.session, origins.bmc) ?? headers.origin;
  if (typeof headers.referer === 'string') out.referer = reroot(headers.referer, origins.session, origins.bmc) ?? headers.referer;
  if (upgrade) {
    out.connection = 'Upgrade';
    if (typeof headers.upgrade === 'string') out.upgrade = headers.upgrade;
  }
  return out;
}

/**
 * One Set-Cookie as the session's origin should hold it: host-only (no
 * Domain: a BMC's cookie must not reach another session's origin nor the
 * relay's), and never our own cookie's name. `Secure` is dropped only when
 * the sessions are served over plain http (loopback), where a browser would
 * refuse the cookie.
 */
export function cookieForBrowser(setCookie: string, secureOrigin: boolean): string | undefined {
  const [pair, ...attributes] = setCookie.split(';');
  if (pair === undefined || pair.split('=')[0]!.trim() === WEB_COOKIE) return undefined;
  const kept = attributes.filter((attribute) => {
    const name = attribute.split('=')[0]!.trim().toLowerCase();
    return name !== 'domain' && (secureOrigin || name !== 'secure');
  });
  return [pair, ...kept].join(';');
}

/** The BMC's response headers as the browser should see them: redirects to the BMC land on the session's origin. */
export function responseHeadersForBrowser(headers: IncomingHttpHeaders, origins: Origins, upgrade: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const secure = origins.session.startsWith('https:');
  const bmcHttp = origins.bmc.replace(/^https:/, 'http:');
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || (HOP_BY_HOP.has(name) && !(upgrade && (name === 'connection' || name === 'upgrade')))) continue;
    if (name === 'set-cookie') {
      const cookies = (Array.isArray(value) ? value : [value]).flatMap((cookie) => cookieForBrowser(cookie, secure) ?? []);
      if (cookies.length > 0) out[name] = cookies;
      continue;
    }
    if (name === 'location' && typeof value === 'string') {
      // A BMC redirects to its own absolute URL (often http → https on itself): the browser stays on the session's origin.
      out[name] = reroot(value, origins.bmc, origins.session) ?? reroot(value, bmcHttp, origins.session) ?? value;
      continue;
    }
    out[name] = value;
  }
  return out;
}
