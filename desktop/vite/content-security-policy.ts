import { rendererContentSecurityPolicy } from '@lightsout/shared/content-security-policy';
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
 * The directives are the relay's too (@lightsout/shared/content-security-policy);
 * only the connect sources are the desktop's own.
 */
export type CspTarget = 'desktop';

const connectSources: Record<CspTarget, readonly string[]> = {
  desktop: ["'self'", 'https:', 'wss:', 'http://127.0.0.1:*', 'ws://127.0.0.1:*', 'http://localhost:*', 'ws://localhost:*'],
};

export function contentSecurityPolicy(target: CspTarget): string {
  return rendererContentSecurityPolicy(connectSources[target]);
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
