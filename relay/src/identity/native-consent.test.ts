import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRelay, TestBrowser, loginWithPassword, parseForm, signInAgainWith, startRelay } from '../testing/index.js';
import { MCP_CLIENT_ID, WEB_CLIENT_ID } from './provider.js';

/**
 * A person signed in to the web console (the OP has a session) opens a
 * hostile page, which sends the browser to /oidc/auth for a native client
 * with a loopback redirect on a port of its choosing. Any local program can
 * listen there (RFC 8252 §8.6), so the code must not reach it without the
 * person approving on the relay's own page (RFC 9700 §4.1): the browser
 * stops at a consent page that only a POST from that page completes.
 */
let relay: RunningRelay;
let browser: TestBrowser;
let registeredClientId: string;

const LISTENER = 'http://127.0.0.1:4444/callback';
const atListener = (location: string) => new URL(location).origin === new URL(LISTENER).origin;
/** The listener's own PKCE verifier: it redeems whatever code reaches its port. */
const verifier = randomBytes(32).toString('base64url');

function attackUrl(clientId: string, resource: string, extra: Record<string, string> = {}): string {
  const url = new URL(`${relay.url}/oidc/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: LISTENER,
    resource,
    scope: 'openid offline_access',
    prompt: 'consent',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'x',
    ...extra,
  }).toString();
  return url.href;
}

beforeAll(async () => {
  relay = await startRelay();
  browser = new TestBrowser();
  await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password, { browser });
  const registration = await fetch(`${relay.url}/oidc/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // Registered (a web application by default, RFC 7591 §2) with the listener's own port: anyone may register.
    body: JSON.stringify({ client_name: 'Totally the Lightsout app', redirect_uris: [LISTENER], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
  });
  registeredClientId = String(((await registration.json()) as Record<string, unknown>)['client_id']);
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

const targets = () => [
  { clientId: WEB_CLIENT_ID, resource: relay.app.config.identity.audience },
  { clientId: MCP_CLIENT_ID, resource: relay.app.config.identity.audience },
  { clientId: registeredClientId, resource: `${relay.url}/mcp` },
];

async function redeem(clientId: string, code: string, resource: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${relay.url}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: LISTENER, client_id: clientId, code_verifier: verifier, resource }).toString(),
  });
  return (await response.json()) as Record<string, unknown>;
}

describe('an authorization for a loopback redirect needs the person on the relay\'s page', () => {
  it('with a sign-in session, no code reaches the listener until Allow is posted from the consent page', async () => {
    expect(registeredClientId).toMatch(/^mcp-dcr-/);
    for (const { clientId, resource } of targets()) {
      const page = await browser.navigate(attackUrl(clientId, resource), { stop: atListener });
      expect({ clientId, url: page.url }).not.toMatchObject({ url: expect.stringContaining('code=') });
      expect({ clientId, at: new URL(page.url).pathname }).toEqual({ clientId, at: expect.stringMatching(/^\/interaction\/[^/]+$/) });
      expect(page.html).toContain('on this computer wants to sign in to Lightsout as');
      expect(page.html).toContain('<strong>operator</strong>');
      expect(page.html).toContain('http://127.0.0.1:4444');
      // A registered client is named by its id, not by the name it gave itself.
      expect(page.html).not.toContain('Totally the Lightsout app');
      const allow = parseForm(page.html, page.url, { actionIncludes: '/consent' });
      expect(page.html).toMatch(/<form method="post" action="[^"]*\/consent"/);
      // Loading the page again (what a GET can do) still delivers nothing.
      const again = await browser.navigate(page.url, { stop: atListener });
      expect(again.url).toBe(page.url);

      const done = await browser.navigate(allow.action, { form: allow.fields, stop: atListener });
      expect(atListener(done.url)).toBe(true);
      const callback = new URL(done.url);
      expect(callback.searchParams.get('state')).toBe('x');
      const code = callback.searchParams.get('code');
      expect(code, done.url).toBeTruthy();
      const tokens = await redeem(clientId, code!, resource);
      expect(decodeJwt(String(tokens['access_token']))).toMatchObject({ preferred_username: 'operator' });
    }
  });

  it('the Allow form does nothing without the interaction cookie, which is SameSite=Lax (a cross-site form cannot carry it)', async () => {
    const start = await browser.request(attackUrl(WEB_CLIENT_ID, relay.app.config.identity.audience));
    const interactionCookie = start.headers.getSetCookie().find((line) => line.startsWith('_interaction='));
    expect(interactionCookie).toMatch(/;\s*samesite=(lax|strict)/i);
    const page = await browser.navigate(new URL(start.headers.get('location')!, relay.url).href, { stop: atListener });
    const allow = parseForm(page.html, page.url, { actionIncludes: '/consent' });
    const crossSite = await new TestBrowser().navigate(allow.action, { form: allow.fields, stop: atListener });
    expect(crossSite.url).not.toContain('code=');
    expect(crossSite.response.status).toBe(400);
  });

  it('Cancel sends access_denied to the listener, no code', async () => {
    const page = await browser.navigate(attackUrl(MCP_CLIENT_ID, relay.app.config.identity.audience), { stop: atListener });
    const cancel = parseForm(page.html, page.url, { actionIncludes: '/abort' });
    const done = await browser.navigate(cancel.action, { form: cancel.fields, stop: atListener });
    expect(new URL(done.url).searchParams.get('error')).toBe('access_denied');
    expect(new URL(done.url).searchParams.has('code')).toBe(false);
  });

  it('a client allowed before is asked again: an earlier grant makes no request silent', async () => {
    // The first test allowed each client once, so the session holds a grant for each; without prompt=consent
    // oidc-provider itself would ask a web-application client (the registered one) nothing.
    for (const { clientId, resource } of targets()) {
      const page = await browser.navigate(attackUrl(clientId, resource, { prompt: '', scope: 'openid' }), { stop: atListener });
      expect({ clientId, url: page.url }).toEqual({ clientId, url: expect.stringMatching(/\/interaction\/[^/]+$/) });
      expect(page.html).toContain('Allow');
    }
  });

  it('prompt=none gets an error redirect and no code (OIDC Core §3.1.2.6)', async () => {
    for (const { clientId, resource } of targets()) {
      const done = await browser.navigate(attackUrl(clientId, resource, { prompt: 'none' }), { stop: atListener });
      expect(atListener(done.url), `${clientId}: ${done.url} ${done.html.slice(-300)}`).toBe(true);
      const callback = new URL(done.url);
      expect({ clientId, code: callback.searchParams.get('code') }).toEqual({ clientId, code: null });
      expect(['consent_required', 'interaction_required']).toContain(callback.searchParams.get('error'));
    }
  });

  it('the web console coming back to the relay\'s own origin signs straight in, no consent page', async () => {
    expect(await signInAgainWith(browser, relay.url)).toBe('signed-in');
  });

  it('a desktop sign-in without a session: the login page, then the consent page, then the code', async () => {
    const fresh = new TestBrowser();
    const login = await fresh.navigate(attackUrl(WEB_CLIENT_ID, relay.app.config.identity.audience), { stop: atListener });
    const form = parseForm(login.html, login.url, { actionIncludes: '/login' });
    const consent = await fresh.navigate(form.action, { form: { username: 'operator', password: relay.credentials.operator.password }, stop: atListener });
    expect(consent.url).not.toContain('code=');
    const allow = parseForm(consent.html, consent.url, { actionIncludes: '/consent' });
    const done = await fresh.navigate(allow.action, { form: allow.fields, stop: atListener });
    expect(new URL(done.url).searchParams.get('code')).toBeTruthy();
  });
});

describe('the interaction pages\' Content-Security-Policy', () => {
  const directives = (policy: string) => new Map(policy.split('; ').map((directive) => [directive.split(' ')[0]!, directive.split(' ').slice(1)]));

  it('form-action allows the relay and this interaction\'s redirect URI origin, nothing else; the other directives stay', async () => {
    const fresh = new TestBrowser();
    const login = await fresh.navigate(attackUrl(WEB_CLIENT_ID, relay.app.config.identity.audience), { stop: atListener });
    expect(new URL(login.url).pathname).toMatch(/^\/interaction\//);
    const loginPolicy = directives(String(login.response.headers.get('content-security-policy')));
    expect(loginPolicy.get('form-action')).toEqual(["'self'", 'http://127.0.0.1:4444']);
    expect(loginPolicy.get('script-src')).toEqual(["'self'"]);
    expect(loginPolicy.get('object-src')).toEqual(["'none'"]);
    expect(loginPolicy.get('base-uri')).toEqual(["'none'"]);
    expect(loginPolicy.get('frame-ancestors')).toEqual(["'none'"]);
    // The login form shown again after a wrong password, and the consent page, carry the same.
    const form = parseForm(login.html, login.url, { actionIncludes: '/login' });
    const wrong = await fresh.navigate(form.action, { form: { username: 'operator', password: 'wrong-password' } });
    expect(wrong.response.status).toBe(401);
    expect(directives(String(wrong.response.headers.get('content-security-policy'))).get('form-action')).toEqual(["'self'", 'http://127.0.0.1:4444']);
    const consent = await fresh.navigate(form.action, { form: { username: 'operator', password: relay.credentials.operator.password }, stop: atListener });
    expect(directives(String(consent.response.headers.get('content-security-policy'))).get('form-action')).toEqual(["'self'", 'http://127.0.0.1:4444']);
  });
});
