import type { Plugin } from 'vite';

/**
 * The desktop renderer's Content-Security-Policy, written into index.html at
 * build time. It forbids inline scripts, eval, plugins, frames and foreign
 * scripts. The renderer is a local file talking to a relay the user names, so
 * it may reach any origin over TLS, and plaintext only on loopback (a relay
 * on the technician's own machine, the RFC 8252 redirect).
 *
 * The web console's build carries no <meta> policy: the relay sends it as a
 * header (relay/src/plugins/security-headers.ts), because only the relay
 * knows the external issuer the console must reach, and a <meta> policy would
 * be enforced alongside the header, narrowing it back to 'self'.
 *
 * Styles keep 'unsafe-inline' because xterm.js and noVNC set element styles at
 * run time; scripts never do.
 */
export type CspTarget = 'desktop';

const connectSources: Record<CspTarget, string> = {
  desktop: "'self' https: wss: http://127.0.0.1:* ws://127.0.0.1:* http://localhost:* ws://localhost:*",
};

export function contentSecurityPolicy(target: CspTarget): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src ${connectSources[target]}`,
    "worker-src 'self' blob:",
    "media-src 'self' blob:",
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** Injects the policy right after the charset declaration, before any script or stylesheet. */
export function cspPlugin(target: CspTarget): Plugin {
  return {
    name: 'lightsout-csp',
    transformIndexHtml: {
      order: 'post',
      handler(html) {
        const tag = `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(target)}">`;
        if (!/<meta charset="UTF-8">/i.test(html)) throw new Error('index.html must declare <meta charset="UTF-8"> for the CSP to follow it');
        return html.replace(/<meta charset="UTF-8">/i, (charset) => `${charset}\n    ${tag}`);
      },
    },
  };
}
