import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, refreshTokens, startRelay } from '@lightsout/relay/testing';
import { WEB_CONSOLE_ROOT, launchChromium, signIn } from '../lib/web-console.js';

/**
 * "Sign out" in the web console, in Chromium, as a person uses it: after it,
 * coming back to the console asks for the password (the OP's session
 * cookie no longer signs straight back in), and the tokens the page held —
 * the refresh token above all, which lives 14 days — are refused. Before,
 * the button only forgot the tokens in the page: the OP's session and the
 * refresh token stayed valid and "Sign in" went straight back in.
 */
let relay: RunningRelay;
let browser: Browser;

beforeAll(async () => {
  relay = await startRelay({ config: { webRoot: WEB_CONSOLE_ROOT } });
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await relay?.close();
});

/** What oidc-client-ts keeps in the tab's sessionStorage for the signed-in user. */
interface StoredUser {
  access_token: string;
  refresh_token?: string;
}

describe('signing out of the web console', () => {
  it('ends the sign-in at the OP: the console asks for the password again, its refresh and access tokens are refused', async () => {
    const page = await browser.newPage();
    await signIn(page, relay.url, 'operator', relay.credentials.operator.password);
    // Evaluated in the page (a string: this package compiles without the DOM's types).
    const stored = await page.evaluate<string | null>(`(() => {
      const key = Object.keys(sessionStorage).find((name) => name.startsWith('oidc.user:'));
      return key === undefined ? null : sessionStorage.getItem(key);
    })()`);
    const user = JSON.parse(stored ?? '{}') as StoredUser;
    expect(user.refresh_token, 'the console holds a refresh token (offline_access)').toEqual(expect.any(String));
    expect((await fetch(`${relay.url}/v1/me`, { headers: { authorization: `Bearer ${user.access_token}` } })).status).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    // The OP asks the person to confirm (RP-initiated logout), then sends the browser back to the console.
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    // Back at the console, which goes straight to the sign-in form: it must ask for the password, not sign in again.
    await page.waitForURL((url) => url.pathname.startsWith('/interaction'), { timeout: 60_000 });
    await page.locator('input[name="password"]').waitFor();
    expect(await page.getByTestId('username').count()).toBe(0);

    await expect(refreshTokens(relay.url, user.refresh_token!, 'lightsout-web')).rejects.toThrow(/invalid_grant/);
    const me = await fetch(`${relay.url}/v1/me`, { headers: { authorization: `Bearer ${user.access_token}` } });
    expect({ status: me.status, code: ((await me.json()) as { code?: string }).code }).toEqual({ status: 401, code: 'TOKEN_INVALID' });
    await page.close();
  }, 120_000);
});
