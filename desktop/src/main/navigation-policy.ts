import { LightsoutError } from '@lightsout/shared';

/**
 * Where the app's windows may go. The renderer is only ever our own bundle:
 * in-page navigation elsewhere is refused, window.open never creates an
 * Electron window, and http(s) links (xterm's web-links, docs) go to the
 * system browser instead, where the user's own browser security applies.
 */
export type WindowOpenDecision = { action: 'deny'; openExternally: string | null };

/** True when `target` is the app's own page (same file or same dev-server origin). */
export function isAppUrl(target: string, appUrl: string): boolean {
  let parsedTarget: URL;
  let parsedApp: URL;
  try {
    parsedTarget = new URL(target);
    parsedApp = new URL(appUrl);
  } catch {
    return false;
  }
  if (parsedApp.protocol === 'file:') return parsedTarget.protocol === 'file:' && parsedTarget.pathname === parsedApp.pathname;
  return parsedTarget.origin === parsedApp.origin;
}

export function decideWindowOpen(target: string): WindowOpenDecision {
  try {
    const url = new URL(target);
    if (url.protocol === 'https:' || url.protocol === 'http:') return { action: 'deny', openExternally: url.href };
  } catch {
    // not a URL at all: nothing to open
  }
  return { action: 'deny', openExternally: null };
}

/**
 * The sign-in and sign-out pages the system browser is sent to. Their
 * addresses come from the relay's discovery document; anything but http(s)
 * (a `file:` path, a custom scheme a local program registered) is refused,
 * since `shell.openExternal` hands any URL to whatever the OS has for it.
 */
export function signInPageUrl(target: string): string {
  const external = decideWindowOpen(target).openExternally;
  if (external === null) throw new LightsoutError('ISSUER_UNAVAILABLE', 'the identity provider gave a sign-in address that is not a web page', { details: { scheme: schemeOf(target) } });
  return external;
}

function schemeOf(target: string): string {
  try {
    return new URL(target).protocol;
  } catch {
    return '';
  }
}

export function isAllowedNavigation(target: string, appUrl: string): boolean {
  return isAppUrl(target, appUrl);
}
