import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import Provider, { errors as oidcErrors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { RelayConfig } from '../config/schema.js';
import type { Store } from '../store/open.js';
import { findAccountById } from './accounts.js';
import { REGISTERED_CLIENT_PREFIX, isRegisteredClientId } from './client-registration.js';
import type { ProviderSecrets } from './keys.js';
import { kyselyAdapterFactory, revokeSessionGrants } from './oidc-adapter.js';
import { deviceConfirmPage, deviceInputPage, logoutPage, messagePage } from './pages.js';

export const WEB_CLIENT_ID = 'lightsout-web';
export const CLI_CLIENT_ID = 'lightsout-cli';
/** The pre-registered client MCP clients (IDE assistants, automation platforms) sign in with. */
export const MCP_CLIENT_ID = 'lightsout-mcp';
export const CLIENT_SCOPES = 'openid profile offline_access';
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The one resource-server scope; access tokens for the API carry it. */
export const API_SCOPE = 'lightsout';
/** Private claim of API access tokens: the OIDC grant they were issued under. */
export const GRANT_CLAIM = 'gid';

/**
 * `aud` of the tokens a self-registered MCP client gets: the MCP endpoint of
 * the deployment, which the endpoint alone accepts (RFC 8707 §2: the token is
 * audience-restricted to the resource asked for; RFC 9068 §4: every other
 * resource server of the relay refuses it for its aud).
 */
export function mcpAudienceOf(deploymentUrl: string): string {
  return `${deploymentUrl}/mcp`;
}

export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The web console's client: public, authorization code + PKCE. Loopback
 * redirects (RFC 8252 §7.3) for the desktop app need application_type
 * native, which OIDC only allows with https or loopback redirect URIs.
 */
function webClient(publicUrl: string): Record<string, unknown> {
  const url = new URL(publicUrl);
  const nativeAllowed = url.protocol === 'https:' || LOOPBACK_HOSTS.has(url.hostname);
  return {
    client_id: WEB_CLIENT_ID,
    client_name: 'Lightsout console',
    token_endpoint_auth_method: 'none',
    application_type: nativeAllowed ? 'native' : 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: nativeAllowed ? [`${publicUrl}/`, 'http://127.0.0.1/callback'] : [`${publicUrl}/`],
    post_logout_redirect_uris: [`${publicUrl}/`],
  };
}

function cliClient(): Record<string, unknown> {
  return {
    client_id: CLI_CLIENT_ID,
    client_name: 'Lightsout CLI',
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  };
}

/**
 * MCP clients: public, authorization code + PKCE with a loopback redirect
 * (RFC 8252 §7.3, any port), as the MCP authorization specification has
 * them sign in. Pre-registered, for clients configured with an id; clients
 * that register themselves (RFC 7591) get one like it (registrationRefusal).
 */
function mcpClient(): Record<string, unknown> {
  return {
    client_id: MCP_CLIENT_ID,
    client_name: 'MCP client',
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
  };
}

/**
 * Whether an authorization's code goes back to the web console on the
 * relay's own origin: the one redirect URI that needs no approval page,
 * since only the relay serves it. The comparison is exact: oidc-provider
 * accepts a native client's loopback redirect on any port (RFC 8252 §7.3),
 * so on a loopback deployment `http://127.0.0.1:<other port>/` also passes
 * its check, and that port may belong to any local program.
 */
export function returnsToOwnConsole(deploymentUrl: string, clientId: unknown, redirectUri: unknown): boolean {
  return clientId === WEB_CLIENT_ID && redirectUri === `${deploymentUrl}/`;
}

/**
 * oidc-provider's prompts, plus one consent check: an authorization whose
 * code goes anywhere but the console's own origin needs the End-User's
 * approval on the consent page in that very request, even with a sign-in
 * session and an earlier grant. A loopback port or a custom scheme can be
 * claimed by any local app, so the AS must not hand it a code without user
 * interaction (RFC 8252 §8.6, RFC 9700 §4.1); with prompt=none the request
 * fails with consent_required instead (OIDC Core §3.1.2.6). oidc-provider's
 * own native_client_prompt covers native clients only; this covers a client
 * that registered itself as a web application with a loopback redirect too.
 * A device-flow request has no redirect: the person confirmed its code.
 */
function interactionPolicyFor(deploymentUrl: string) {
  const policy = interactionPolicy.base();
  policy.get('consent')!.checks.add(
    new interactionPolicy.Check('redirect_needs_approval', 'a code for a redirect URI outside the relay needs the End-User\'s approval', 'consent_required', (context) => {
      const params = context.oidc['params'] as { redirect_uri?: unknown } | undefined;
      const result = context.oidc['result'] as { consent?: unknown } | undefined;
      if (context.oidc['deviceCode'] !== undefined || result?.consent !== undefined) return false;
      return !returnsToOwnConsole(deploymentUrl, context.oidc.client?.clientId, params?.redirect_uri);
    }),
  );
  return policy;
}

/** A loopback redirect (RFC 8252 §7.3): plain http to 127.0.0.1, [::1] or localhost, any port, no fragment. */
function isLoopbackRedirect(uri: unknown): boolean {
  if (typeof uri !== 'string') return false;
  const url = URL.parse(uri);
  return url !== null && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && url.hash === '' && url.username === '' && url.password === '';
}

/**
 * What a client registering itself may be (RFC 7591; the MCP authorization
 * specification has MCP clients register so): exactly what the pre-registered
 * MCP client is — public (no secret), authorization code (+ refresh) with
 * PKCE (required for every client), loopback redirects only, a native app.
 * Anything else is refused with invalid_client_metadata / invalid_redirect_uri.
 * Its tokens are for the MCP endpoint only (getResourceServerInfo, mcpAudienceOf).
 */
export function registrationRefusal(metadata: Record<string, unknown>): { redirect: boolean; message: string } | undefined {
  const redirects = metadata['redirect_uris'];
  if (!Array.isArray(redirects) || redirects.length === 0 || redirects.length > 5 || !redirects.every(isLoopbackRedirect)) {
    return { redirect: true, message: 'only loopback redirect URIs (http://127.0.0.1, http://[::1] or http://localhost, any port) may be registered' };
  }
  if (metadata['token_endpoint_auth_method'] !== 'none') return { redirect: false, message: 'only public clients (token_endpoint_auth_method "none") may register' };
  const grants = metadata['grant_types'];
  if (!Array.isArray(grants) || !grants.every((grant) => grant === 'authorization_code' || grant === 'refresh_token') || !grants.includes('authorization_code')) {
    return { redirect: false, message: 'grant_types may be authorization_code and refresh_token only' };
  }
  const responses = metadata['response_types'];
  if (!Array.isArray(responses) || responses.length !== 1 || responses[0] !== 'code') return { redirect: false, message: 'response_types must be ["code"]' };
  for (const key of ['jwks', 'jwks_uri', 'sector_identifier_uri', 'request_uris', 'post_logout_redirect_uris', 'initiate_login_uri']) {
    const value = metadata[key];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) return { redirect: false, message: `${key} may not be registered` };
  }
  return undefined;
}

function deviceError(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  const named = error as { name?: string; userCode?: string };
  if (named.userCode !== undefined || named.name === 'NoCodeError') return 'That code is not valid or has expired. Check it and try again.';
  if (named.name === 'AbortedError') return 'The sign-in request was cancelled.';
  return 'Something went wrong. Start again from the CLI.';
}

export function createProvider(options: { config: RelayConfig; store: Store; secrets: ProviderSecrets; log: FastifyBaseLogger }): Provider {
  const { config, store, secrets, log } = options;
  const audience = config.identity.audience;
  // The MCP endpoint's resource indicator (its RFC 9728 metadata names it; MCP clients send it, RFC 8707).
  // The pre-registered clients' tokens for it are API tokens (aud: the API audience, docs/automation.md);
  // a self-registered client's are for the endpoint alone (mcpAudienceOf).
  const mcpResources = new Set([`${config.deploymentUrl}/mcp`, `${config.publicUrl}/mcp`]);
  const apiResources = new Set([audience, ...mcpResources]);
  const provider = new Provider(config.identity.issuer, {
    adapter: kyselyAdapterFactory(store),
    // The web console comes back to the deployment's URL, whichever replica served the sign-in.
    clients: [webClient(config.deploymentUrl), cliClient(), mcpClient()],
    jwks: secrets.jwks,
    cookies: { keys: secrets.cookieKeys },
    claims: { openid: ['sub'], profile: ['preferred_username', 'tenant', 'role'] },
    async findAccount(_context: KoaContextWithOIDC, subject: string) {
      const account = await findAccountById(store, subject);
      if (account === undefined) return undefined;
      return {
        accountId: account.id,
        async claims() {
          return { sub: account.id, preferred_username: account.username, tenant: account.tenant, role: account.role };
        },
      };
    },
    // Tenant, role and username ride in API access tokens too, so another relay
    // (a regional gateway) can trust this OP as an external issuer with the
    // default claims mapping. This relay itself still reads them from its store.
    async extraTokenClaims(context: KoaContextWithOIDC, token: { kind: string; accountId?: string; grantId?: string }) {
      if (token.kind !== 'AccessToken' || token.accountId === undefined) return undefined;
      const account = await findAccountById(store, token.accountId);
      if (account === undefined) return undefined;
      // auth_time and amr of the login behind this token (the code, device code or refresh
      // token being redeemed): the API's step-up check (RFC 9470) reads them.
      const entities = (context.oidc['entities'] ?? {}) as Record<string, { authTime?: unknown; amr?: unknown } | undefined>;
      const origin = entities['AuthorizationCode'] ?? entities['DeviceCode'] ?? entities['RefreshToken'];
      return {
        tenant: account.tenant,
        role: account.role,
        preferred_username: account.username,
        // The grant behind the token: signing out, a password change or a disable deletes it,
        // and the API refuses the token at once instead of when it expires (principal.ts).
        ...(typeof token.grantId === 'string' ? { [GRANT_CLAIM]: token.grantId } : {}),
        ...(typeof origin?.authTime === 'number' ? { auth_time: origin.authTime } : {}),
        ...(Array.isArray(origin?.amr) ? { amr: origin.amr } : {}),
      };
    },
    // Checked on every client the OP loads; registrationRefusal applies to those that registered themselves.
    extraClientMetadata: {
      properties: ['software_id'],
      validator(_context: KoaContextWithOIDC, _key: string, _value: unknown, metadata: Record<string, unknown>) {
        if (!isRegisteredClientId(metadata['client_id'])) return;
        const refusal = registrationRefusal(metadata);
        if (refusal === undefined) return;
        throw refusal.redirect ? new oidcErrors.InvalidRedirectUri(refusal.message) : new oidcErrors.InvalidClientMetadata(refusal.message);
      },
    },
    interactions: { policy: interactionPolicyFor(config.deploymentUrl), url: (_context: KoaContextWithOIDC, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: {
      AccessToken: config.identity.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 1800,
      Grant: config.identity.refreshTokenTtlSeconds,
      Session: config.identity.refreshTokenTtlSeconds,
      RefreshToken: config.identity.refreshTokenTtlSeconds,
    },
    features: {
      devInteractions: { enabled: false },
      // RFC 7591 for MCP clients: open (no initial access token), but only for what registrationRefusal allows;
      // no registration access token (nothing to manage later); rate-limited and audited in plugins/identity.ts.
      registration: {
        enabled: config.identity.mcpClientRegistration.enabled,
        initialAccessToken: false,
        issueRegistrationAccessToken: false,
        idFactory: () => `${REGISTERED_CLIENT_PREFIX}${randomUUID()}`,
      },
      revocation: { enabled: true },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        async userCodeInputSource(context: KoaContextWithOIDC, form: string, _out: unknown, error: unknown) {
          context.type = 'html';
          context.body = deviceInputPage(form, deviceError(error));
        },
        async userCodeConfirmSource(context: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _deviceInfo: unknown, userCode: string) {
          context.type = 'html';
          context.body = deviceConfirmPage(form, client.clientName ?? client.clientId, userCode);
        },
        async successSource(context: KoaContextWithOIDC) {
          context.type = 'html';
          context.body = messagePage('Signed in', 'Your device is signed in. You can close this page and return to the terminal.');
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(context: KoaContextWithOIDC, form: string) {
          context.type = 'html';
          context.body = logoutPage(form, context.host);
        },
        async postLogoutSuccessSource(context: KoaContextWithOIDC) {
          context.type = 'html';
          context.body = messagePage('Signed out', 'You are signed out of Lightsout.');
        },
      },
      // RFC 8707: API access tokens are JWTs whose aud is the relay's API, never opaque.
      resourceIndicators: {
        enabled: true,
        async defaultResource() {
          return audience;
        },
        async useGrantedResource() {
          return true;
        },
        async getResourceServerInfo(_context: KoaContextWithOIDC, resourceIndicator: string, client: { clientId: string }) {
          if (!apiResources.has(resourceIndicator)) throw new oidcErrors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          // A client that registered itself gets tokens for the MCP endpoint only, never the whole API by default.
          const registered = isRegisteredClientId(client.clientId);
          if (registered && !mcpResources.has(resourceIndicator)) throw new oidcErrors.InvalidTarget('a registered MCP client may ask for the MCP endpoint only (resource=…/mcp)');
          return {
            scope: API_SCOPE,
            // One aud for the deployment's MCP endpoint, whichever URL of it was asked for: every replica accepts it.
            audience: registered ? mcpAudienceOf(config.deploymentUrl) : audience,
            accessTokenTTL: config.identity.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'EdDSA' } },
          };
        },
      },
    },
    clientBasedCORS(_context: KoaContextWithOIDC, origin: string, client: { redirectUris?: string[] }) {
      return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
    },
    async renderError(context: KoaContextWithOIDC, out: Record<string, string>) {
      context.type = 'html';
      context.body = messagePage('Sign-in failed', `${out['error'] ?? 'error'}: ${out['error_description'] ?? ''}`);
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'EdDSA', 'ES256'],
    },
  });
  provider.proxy = config.trustProxy;
  // RP-initiated logout: after the OP has ended its session, also end the grant of the client
  // that asked, offline_access or not (oidc-provider keeps such grants across a logout by
  // design). The response (303 to post_logout_redirect_uri) leaves only once this is done.
  provider.use(async (context, next) => {
    await next();
    if (context.method !== 'POST' || context.path !== '/session/end/confirm' || context.status !== 303) return;
    const session = context.oidc['session'] as { uid?: string; accountId?: string } | undefined;
    const client = context.oidc.client;
    if (session?.uid === undefined || session.accountId === undefined || client === undefined) return;
    await revokeSessionGrants(store, { accountId: session.accountId, sessionUid: session.uid, clientId: client.clientId });
  });
  provider.on('server_error', (_context: unknown, error: unknown) => log.error({ err: error }, 'oidc provider error'));
  return provider;
}
