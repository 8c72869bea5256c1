import { createHash, randomBytes } from 'node:crypto';
import { type ClientConfig, LightsoutError } from '@lightsout/shared';
import { TestBrowser, parseForm } from './browser.js';

/** Test-only login helpers: they drive the real embedded OP over HTTP like a person with a browser would. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  idToken: string | undefined;
  expiresIn: number;
}

export async function fetchClientConfig(relayUrl: string): Promise<ClientConfig> {
  const response = await fetch(`${relayUrl}/v1/client-config`);
  if (!response.ok) throw LightsoutError.fromBody(await response.json());
  return (await response.json()) as ClientConfig;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  device_authorization_endpoint: string;
  end_session_endpoint: string;
  revocation_endpoint: string;
}

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`discovery failed: HTTP ${response.status}`);
  return (await response.json()) as Discovery;
}

function tokenSet(body: Record<string, unknown>): TokenSet {
  if (typeof body['access_token'] !== 'string') throw new Error(`token endpoint answered without an access token: ${String(body['error'])}`);
  return {
    accessToken: body['access_token'],
    refreshToken: typeof body['refresh_token'] === 'string' ? body['refresh_token'] : undefined,
    idToken: typeof body['id_token'] === 'string' ? body['id_token'] : undefined,
    expiresIn: Number(body['expires_in']),
  };
}

/** Sign in on the login page the browser is at (following redirects until done or `stop`). */
async function signIn(browser: TestBrowser, page: { url: string; html: string }, username: string, password: string, stop?: (location: string) => boolean, otp?: string) {
  const form = parseForm(page.html, page.url, { actionIncludes: '/login' });
  const result = await browser.navigate(form.action, { form: { username, password, ...(otp === undefined ? {} : { otp }) }, ...(stop === undefined ? {} : { stop }) });
  if (result.response.status === 401) throw new LightsoutError('UNAUTHENTICATED', `login refused for ${username}`);
  if (result.response.status === 429) {
    throw new LightsoutError('RATE_LIMITED', `too many failed sign-ins for ${username}`, { details: { retryAfterSeconds: Number(result.response.headers.get('retry-after')) } });
  }
  return result;
}

/**
 * Press Allow if the browser is at the consent page, which an authorization
 * for any redirect URI but the web console's own shows (a loopback port,
 * RFC 8252 §8.6); otherwise hand the page back as it is.
 */
const isConsentPage = (html: string) => /<form method="post" action="[^"]*\/consent"/.test(html);

async function allowIfAsked(browser: TestBrowser, page: { url: string; html: string; response: Response }, stop?: (location: string) => boolean) {
  if (!isConsentPage(page.html)) return page;
  const form = parseForm(page.html, page.url, { actionIncludes: '/consent' });
  return browser.navigate(form.action, { form: form.fields, ...(stop === undefined ? {} : { stop }) });
}

/**
 * Act as the person at the browser for an authorization request a client
 * built itself (an MCP client's, say): open it, sign in, allow, and return the
 * callback URL the OP redirects to (its `code`, `state` or `error`).
 */
export async function approveAuthorization(authorizationUrl: string, username: string, password: string): Promise<URL> {
  const redirect = new URL(new URL(authorizationUrl).searchParams.get('redirect_uri') ?? '');
  const isCallback = (location: string) => {
    const target = new URL(location);
    return target.origin === redirect.origin && target.pathname === redirect.pathname;
  };
  const browser = new TestBrowser();
  const login = await browser.navigate(authorizationUrl, { stop: isCallback });
  if (isCallback(login.url)) return new URL(login.url);
  // A browser with a sign-in session goes straight to the consent page.
  const done = await allowIfAsked(browser, isConsentPage(login.html) ? login : await signIn(browser, login, username, password, isCallback), isCallback);
  if (!isCallback(done.url)) throw new Error(`authorization did not return to ${redirect.href}: ${done.html.slice(0, 300)}`);
  return new URL(done.url);
}

/**
 * Act as the person at the browser for a device code: open the verification
 * URL, confirm the code, sign in. Resolves when the OP shows its success page.
 */
export async function approveDeviceCode(verificationUriComplete: string, username: string, password: string): Promise<void> {
  const browser = new TestBrowser();
  let page = await browser.navigate(verificationUriComplete);
  // With the code in the URL the OP first answers with a self-submitting form
  // (it adds the anti-CSRF token); a browser posts it, so do we.
  for (let step = 0; step < 3 && !page.html.includes('op.deviceConfirmForm'); step += 1) {
    const form = parseForm(page.html, page.url);
    page = await browser.navigate(form.action, { form: form.fields });
  }
  const form = parseForm(page.html, page.url, { id: 'op.deviceConfirmForm' });
  const login = await browser.navigate(form.action, { form: form.fields });
  const done = await signIn(browser, login, username, password);
  if (!done.html.includes('Signed in')) throw new Error(`device approval did not reach the success page: ${done.html.slice(0, 300)}`);
}

/** The CLI's flow end to end: device authorization (RFC 8628), approval in a "browser", token polling. */
export async function loginWithDeviceFlow(relayUrl: string, username: string, password: string): Promise<TokenSet> {
  const client = await fetchClientConfig(relayUrl);
  const endpoints = await discover(client.issuer);
  const start = await fetch(endpoints.device_authorization_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.cliClientId, scope: client.scopes, resource: client.audience }).toString(),
  });
  const device = (await start.json()) as { device_code: string; verification_uri_complete: string; interval?: number; error?: string };
  if (!start.ok) throw new Error(`device authorization failed: ${device.error}`);
  await approveDeviceCode(device.verification_uri_complete, username, password);
  // Approved already, so the first poll succeeds; the bound only guards against a broken OP.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const response = await fetch(endpoints.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code, client_id: client.cliClientId }).toString(),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (response.ok) return tokenSet(body);
    if (body['error'] !== 'authorization_pending' && body['error'] !== 'slow_down') throw new Error(`device token polling failed: ${String(body['error'])}`);
  }
  throw new Error('device flow: token not issued after approval');
}

/** The web console's flow: authorization code + PKCE (RFC 7636) through the login form. */
export async function loginWithPassword(relayUrl: string, username: string, password: string, options: { redirectUri?: string; otp?: string; forwardedFor?: string; browser?: TestBrowser } = {}): Promise<TokenSet> {
  const client = await fetchClientConfig(relayUrl);
  const endpoints = await discover(client.issuer);
  const redirectUri = options.redirectUri ?? `${relayUrl}/`;
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(endpoints.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: client.scopes,
    resource: client.audience,
    prompt: 'consent',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const browser = options.browser ?? new TestBrowser(options.forwardedFor === undefined ? {} : { 'x-forwarded-for': options.forwardedFor });
  const callbackTarget = new URL(redirectUri);
  const isCallback = (location: string) => {
    const target = new URL(location);
    return target.origin === callbackTarget.origin && target.pathname === callbackTarget.pathname;
  };
  const login = await browser.navigate(authorize.href, { stop: isCallback });
  const done = await allowIfAsked(browser, isConsentPage(login.html) ? login : await signIn(browser, login, username, password, isCallback, options.otp), isCallback);
  const callback = new URL(done.url);
  if (!isCallback(done.url)) throw new Error(`login did not return to ${redirectUri}: ${done.html.slice(0, 300)}`);
  if (callback.searchParams.get('state') !== state) throw new Error('state mismatch on the callback');
  const code = callback.searchParams.get('code');
  if (code === null) throw new Error(`authorization failed: ${callback.searchParams.get('error')}`);
  const response = await fetch(endpoints.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.clientId, code_verifier: verifier, resource: client.audience }).toString(),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`code exchange failed: ${String(body['error'])} ${String(body['error_description'])}`);
  return tokenSet(body);
}

/**
 * With a browser that signed in before: start the console's sign-in again and
 * say whether the OP let it straight back in (its session cookie still
 * signs in) or showed the login page.
 */
export async function signInAgainWith(browser: TestBrowser, relayUrl: string): Promise<'signed-in' | 'login-page'> {
  const client = await fetchClientConfig(relayUrl);
  const endpoints = await discover(client.issuer);
  const authorize = new URL(endpoints.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: `${relayUrl}/`,
    scope: client.scopes,
    resource: client.audience,
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const page = await browser.navigate(authorize.href, { stop: (location) => new URL(location).origin === new URL(relayUrl).origin && new URL(location).pathname === '/' });
  if (new URL(page.url).pathname === '/' && new URL(page.url).searchParams.has('code')) return 'signed-in';
  if (page.html.includes('name="password"')) return 'login-page';
  throw new Error(`neither signed in nor at the login page: ${page.url} ${page.html.slice(0, 200)}`);
}

/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) as the web
 * console does it in the browser: to the end-session endpoint with the ID
 * token as hint, confirm on the OP's page, back at the post-logout redirect.
 */
export async function endOpSession(browser: TestBrowser, relayUrl: string, idToken: string): Promise<void> {
  const client = await fetchClientConfig(relayUrl);
  const endpoints = await discover(client.issuer);
  const endSession = new URL(endpoints.end_session_endpoint);
  endSession.search = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: `${relayUrl}/`, client_id: client.clientId }).toString();
  const isBack = (location: string) => new URL(location).href === `${relayUrl}/`;
  const page = await browser.navigate(endSession.href, { stop: isBack });
  const form = parseForm(page.html, page.url, { id: 'op.logoutForm' });
  const done = await browser.navigate(form.action, { form: { ...form.fields, logout: 'yes' }, stop: isBack });
  if (!isBack(done.url)) throw new Error(`logout did not return to ${relayUrl}/: ${done.url} ${done.html.slice(0, 200)}`);
}

/** RFC 7009 token revocation, as a public client (what every sign-out does with its refresh token). */
export async function revokeRefreshToken(relayUrl: string, refreshToken: string, clientId: string): Promise<number> {
  const client = await fetchClientConfig(relayUrl);
  const endpoints = await discover(client.issuer);
  const response = await fetch(endpoints.revocation_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: clientId }).toString(),
  });
  await response.body?.cancel();
  return response.status;
}

/** Trade a refresh token for a fresh access token (what the CLI does when its token expires). */
export async function refreshTokens(relayUrl: string, refreshToken: string, clientId: string): Promise<TokenSet> {
  const client = await fetchClientConfig(relayUrl);
  const endpoints = await discover(client.issuer);
  const response = await fetch(endpoints.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, resource: client.audience }).toString(),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`refresh failed: ${String(body['error'])} ${String(body['error_description'])}`);
  return tokenSet(body);
}

/**
 * As a provider admin, create a join token (what `lightsout agents token
 * create` does). Without `tenants` it names every tenant the relay knows at
 * that moment — what a provider running its own agent for all its customers
 * names; a tenant created later needs `PUT /v1/agents/{id}/tenants`.
 */
export async function createJoinTokenAs(relayUrl: string, accessToken: string, placement: { region: string; datacenter: string; ttlSeconds?: number; tenants?: string[] }): Promise<{ token: string; region: string; datacenter: string; tenants: string[]; expiresAt: string }> {
  const tenants = placement.tenants ?? (await knownTenants(relayUrl, accessToken));
  const response = await fetch(`${relayUrl}/v1/agents/join-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ ...placement, tenants }),
  });
  const body = (await response.json()) as { token: string; region: string; datacenter: string; tenants: string[]; expiresAt: string };
  if (response.status !== 201) throw LightsoutError.fromBody(body);
  return body;
}

async function knownTenants(relayUrl: string, accessToken: string): Promise<string[]> {
  const response = await fetch(`${relayUrl}/v1/tenants`, { headers: { authorization: `Bearer ${accessToken}` } });
  const body = (await response.json()) as { tenants: Array<{ id: string }> };
  if (response.status !== 200) throw LightsoutError.fromBody(body as never);
  return body.tenants.map((tenant) => tenant.id);
}
