import { describe, expect, it } from 'vitest';
import { decideWindowOpen, isAllowedNavigation, signInPageUrl } from './navigation-policy.js';

describe('navigation policy', () => {
  const fileApp = 'file:///opt/Lightsout/resources/app/out/renderer/index.html';

  it('allows only the app page itself for a packaged app', () => {
    expect(isAllowedNavigation(`${fileApp}?popout=tab-1`, fileApp)).toBe(true);
    expect(isAllowedNavigation('file:///etc/passwd', fileApp)).toBe(false);
    expect(isAllowedNavigation('https://evil.example/', fileApp)).toBe(false);
    expect(isAllowedNavigation('not a url', fileApp)).toBe(false);
  });

  it('allows the dev server origin only', () => {
    expect(isAllowedNavigation('http://localhost:5173/x', 'http://localhost:5173/')).toBe(true);
    expect(isAllowedNavigation('http://localhost:5174/', 'http://localhost:5173/')).toBe(false);
  });

  it('never opens an Electron window; http(s) goes to the system browser, other schemes nowhere', () => {
    expect(decideWindowOpen('https://docs.example/a')).toEqual({ action: 'deny', openExternally: 'https://docs.example/a' });
    expect(decideWindowOpen('file:///etc/passwd')).toEqual({ action: 'deny', openExternally: null });
    expect(decideWindowOpen('javascript:alert(1)')).toEqual({ action: 'deny', openExternally: null });
    expect(decideWindowOpen('smb://share/x')).toEqual({ action: 'deny', openExternally: null });
  });

  it('sends the system browser only to web pages for sign-in and sign-out (their addresses come from the relay)', () => {
    expect(signInPageUrl('https://relay.example/oidc/auth?x=1')).toBe('https://relay.example/oidc/auth?x=1');
    for (const target of ['file:///etc/passwd', 'ms-settings:privacy', 'javascript:alert(1)', 'not a url']) {
      expect(() => signInPageUrl(target)).toThrow(expect.objectContaining({ code: 'ISSUER_UNAVAILABLE' }));
    }
  });
});
