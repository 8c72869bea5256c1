import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockIssuer, type RunningRelay, startRelay } from '@lightsout/relay/testing';
import { WEB_CONSOLE_ROOT, launchChromium } from '../lib/web-console.js';

/**
 * The web console signs in through an external issuer, in Chromium, against
 * an independent OpenID Connect implementation (oauth2-mock-server): the
 * page reads the issuer's discovery document and exchanges its code at the
 * issuer's token endpoint (both fetched by oidc-client-ts, so the relay's
 * Content-Security-Policy must name the issuer's origin), then calls the API
 * with the issuer's access token. A policy baked at build time with
 * `connect-src 'self'` blocked those fetches and the console could not sign
 * in at all; a header check alone would not show that the sign-in works.
 */
const AUDIENCE = 'https://relay.lightsout.test/v1';
const WEB_CLIENT = 'lightsout-web';

let issuer: MockIssuer;
let relay: RunningRelay;
let browser: Browser;

beforeAll(async () => {
  issuer = await MockIssuer.create();
  // The issuer's tokens as a provider configured for Lightsout mints them: the API audience and the
  // tenant and role claims on the access token, a username on both (the ID token's aud is the client).
  issuer.server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    const accessToken = token.payload['aud'] === undefined;
    Object.assign(token.payload, { sub: 'noc-admin', preferred_username: 'noc-admin' }, accessToken ? { aud: AUDIENCE, tenant: 'provider', role: 'provider-admin' } : {});
  });
  relay = await startRelay({
    config: { webRoot: WEB_CONSOLE_ROOT, identity: { mode: 'external', audience: AUDIENCE, external: { issuer: issuer.url, clientId: WEB_CLIENT, accessTokenTypes: ['JWT'] } } },
  });
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await relay?.close();
  await issuer?.stop();
});

describe('the web console with an external issuer', () => {
  it('signs in through the issuer (discovery, authorization code + PKCE, token exchange) and calls the API with its token', async () => {
    const page = await browser.newPage();
    const refusedByPolicy: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) refusedByPolicy.push(message.text());
    });
    const atIssuer: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(issuer.url)) atIssuer.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    const apiAnswered = page.waitForResponse((response) => response.url() === `${relay.url}/v1/me` && response.request().headers()['authorization'] !== undefined, { timeout: 60_000 });
    // Awaited below once signed in; a sign-in that fails is reported by the wait for the username instead.
    apiAnswered.catch(() => undefined);
    await page.goto(relay.url);
    const username = page.getByTestId('username');
    await username.waitFor({ timeout: 60_000 }).catch((error: Error) => {
      throw new Error(`${error.message}; at ${page.url()}; the issuer saw ${atIssuer.join(', ') || 'nothing'}; refused by the page's policy: ${refusedByPolicy.join(' | ') || 'nothing'}`);
    });
    expect(await username.textContent()).toContain('noc-admin');
    // The page itself fetched the issuer's discovery document and token endpoint (the redirect to /authorize is a navigation).
    expect(atIssuer).toEqual(expect.arrayContaining(['GET /.well-known/openid-configuration', 'GET /authorize', 'POST /token']));
    expect(refusedByPolicy).toEqual([]);
    const me = await apiAnswered;
    expect(me.status()).toBe(200);
    expect(await me.json()).toMatchObject({ username: 'noc-admin', tenant: 'provider', role: 'provider-admin', issuer: issuer.url });
    await page.close();
  }, 120_000);
});
