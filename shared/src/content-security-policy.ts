/**
 * The renderer's Content-Security-Policy (CSP Level 3), one list for both
 * places that send it: the desktop build writes it into index.html as a
 * <meta> tag, and the relay sends it as a header with the web console. The
 * two differ only where they must: where the renderer may connect (the
 * desktop talks to any relay the user names; the web console to its own
 * relay and the external issuer), and `frame-ancestors`, which a <meta>
 * policy cannot carry (CSP3 §6.4.2), so only the header has it.
 *
 * No inline or evaluated script, no plugins, no frames. Styles keep
 * 'unsafe-inline' because xterm.js and noVNC set element styles at run time;
 * scripts never do. This file imports nothing, so the desktop's build
 * configuration can load it as it is.
 */
export function rendererContentSecurityPolicy(connectSources: readonly string[], options: { frameAncestors?: "'none'" } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src ${connectSources.join(' ')}`,
    "worker-src 'self' blob:",
    "media-src 'self' blob:",
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    ...(options.frameAncestors === undefined ? [] : [`frame-ancestors ${options.frameAncestors}`]),
  ].join('; ');
}
