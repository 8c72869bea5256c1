import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { rendererContentSecurityPolicy } from '@lightsout/shared/content-security-policy';

/**
 * The web console's Content-Security-Policy: the renderer's directives (the
 * desktop build writes the same ones), sent by the relay (not a <meta> tag
 * baked at build time) because three parts only exist at run time or only
 * work as a header: the external issuer the console must reach (discovery,
 * token and revocation endpoints: oidc-client-ts fetches them), the other
 * replicas of a regional deployment (a console's stream and an upload's
 * bytes go to the gateway holding the server's agent, another origin than
 * the manager that served the page), and `frame-ancestors`, which a <meta>
 * policy cannot carry (CSP3 §6.4.2). `'self'` covers the API and (CSP3) the
 * same-origin ws:/wss: stream sockets; another origin's sockets need their
 * own ws:/wss: source, since an http: source does not match them (CSP3
 * §6.7.2.8).
 */
export function consolePolicy(issuerOrigins: readonly string[], replicaUrls: readonly string[] = []): string {
  return rendererContentSecurityPolicy(["'self'", ...issuerOrigins, ...replicaSources(replicaUrls)], { frameAncestors: "'none'" });
}

/** Each replica's origin and its WebSocket origin: `https://gw1:8443` → `https://gw1:8443 wss://gw1:8443`. */
export function replicaSources(urls: readonly string[]): string[] {
  const sources = new Set<string>();
  for (const url of urls) {
    let origin: URL;
    try {
      origin = new URL(url);
    } catch {
      continue;
    }
    if (origin.protocol !== 'http:' && origin.protocol !== 'https:') continue;
    sources.add(origin.origin);
    sources.add(`${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}`);
  }
  return [...sources];
}

/**
 * The embedded OP's own pages (device code, sign-out, errors). No
 * `form-action` here: a sign-in form's redirect chain ends at the client's
 * redirect URI (a loopback port for the desktop app, RFC 8252 §7.3), and
 * Chrome and Safari apply form-action to every redirect after the
 * submission. The interaction pages, which know that URI, narrow it
 * (interactionPagePolicy). oidc-provider adds the hash of its one inline
 * script (form_post) to script-src itself.
 */
export const IDENTITY_PAGES_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * An interaction page's policy (/interaction/:uid: login, consent): the
 * identity pages' policy plus `form-action` (CSP3 §6.4.1) for the relay and
 * the origin of this sign-in's redirect URI, where the redirects after the
 * form's POST end, and nothing else, so a form injected into the page
 * cannot post a password anywhere.
 */
export function interactionPagePolicy(redirectOrigin: string | undefined): string {
  return `${IDENTITY_PAGES_POLICY}; form-action 'self'${redirectOrigin === undefined ? '' : ` ${redirectOrigin}`}`;
}

const IDENTITY_PREFIXES = ['/oidc/', '/interaction/'];

/** One year, the value HSTS preload lists ask for (RFC 6797 §6.1.1). */
const HSTS = 'max-age=31536000; includeSubDomains';

/** Headers every answer carries, whatever produced it. */
export function staticSecurityHeaders(publicUrl: string): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    // Only over https: a browser ignores it on http, and a plaintext relay on loopback must stay reachable.
    ...(publicUrl.startsWith('https://') ? { 'strict-transport-security': HSTS } : {}),
  };
}

/**
 * Security headers on every response of the relay: the API, the console's
 * static files, the OP's pages (answered outside Fastify's reply, hence
 * set on the raw response) and errors.
 */
async function securityHeadersPlugin(app: FastifyInstance): Promise<void> {
  const fixed = Object.entries(staticSecurityHeaders(app.config.publicUrl));
  app.addHook('onRequest', async (request, reply) => {
    const raw: ServerResponse = reply.raw;
    for (const [name, value] of fixed) raw.setHeader(name, value);
    const path = request.url.split('?')[0] ?? '/';
    const identityPage = IDENTITY_PREFIXES.some((prefix) => path.startsWith(prefix));
    const replicas = app.hasDecorator('cluster') ? app.cluster.replicas : undefined;
    raw.setHeader('content-security-policy', identityPage ? IDENTITY_PAGES_POLICY : consolePolicy(app.hasDecorator('identity') ? app.identity.issuerOrigins() : [], replicas?.publicUrls() ?? []));
  });
}

export default fp(securityHeadersPlugin, { name: 'lightsout-security-headers' });
