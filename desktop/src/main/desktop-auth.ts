import { type ClientConfig, LightsoutError, isLoopbackHost } from '@lightsout/shared';
import { InMemoryWebStorage, OidcClient, type RefreshState, type SigninResponse, WebStorageStateStore } from 'oidc-client-ts';
import type { AuthState } from '../common/desktop-api.js';
import { startLoopbackRedirect } from './loopback-redirect.js';
import type { StoredTokens, TokenStore } from './token-store.js';

export interface DesktopAuthOptions {
  store: TokenStore;
  /** Opens the authorization URL in the user's system browser (shell.openExternal). */
  openBrowser(url: string): Promise<void>;
  /** How long the user has to finish logging in, in the browser. */
  loginTimeoutMs?: number;
  /** Refresh this many seconds before the access token expires. */
  refreshMarginSeconds?: number;
  now?: () => number;
  onChanged?: (state: AuthState) => void;
}

/**
 * Desktop login, held entirely in main: authorization code + PKCE through the
 * system browser and a loopback redirect (RFC 8252), using oidc-client-ts's
 * protocol client (no window needed). The renderer never sees the refresh
 * token; it asks for an access token each time and main refreshes it first
 * when it is about to expire ("silent refresh" without an iframe).
 */
export class DesktopAuth {
  readonly #options: DesktopAuthOptions;
  #relayUrl: string | null = null;
  #config: ClientConfig | null = null;
  #client: OidcClient | null = null;
  #tokens: StoredTokens | null = null;
  #refreshing: Promise<StoredTokens | null> | null = null;

  constructor(options: DesktopAuthOptions) {
    this.#options = options;
  }

  #nowSeconds(): number {
    return Math.floor((this.#options.now?.() ?? Date.now()) / 1000);
  }

  state(): AuthState {
    return { relayUrl: this.#relayUrl, username: this.#tokens?.username ?? null, expiresAt: this.#tokens?.expiresAt ?? null };
  }

  #changed(): AuthState {
    const state = this.state();
    this.#options.onChanged?.(state);
    return state;
  }

  /** Points the app at a relay: fetches its public client config and restores saved tokens for it. */
  async configure(relayUrl: string): Promise<AuthState> {
    const base = new URL(relayUrl);
    if (base.protocol !== 'https:' && !isLoopbackHost(base.hostname)) {
      throw new LightsoutError('BAD_REQUEST', `refusing plaintext http to ${base.host}`, { hint: 'Use an https:// relay URL (plain http is allowed on loopback only).' });
    }
    const origin = base.origin;
    const response = await fetch(`${origin}/v1/client-config`, { headers: { accept: 'application/json' } });
    if (!response.ok) throw LightsoutError.fromBody(await response.json().catch(() => null));
    const config = (await response.json()) as ClientConfig;
    this.#relayUrl = origin;
    this.#config = config;
    this.#client = new OidcClient({
      authority: config.issuer,
      client_id: config.clientId,
      redirect_uri: 'http://127.0.0.1/callback',
      scope: config.scopes,
      response_type: 'code',
      loadUserInfo: false,
      stateStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    });
    const saved = await this.#options.store.load();
    this.#tokens = saved && saved.relayUrl === origin ? saved : null;
    return this.#changed();
  }

  #require(): { client: OidcClient; config: ClientConfig; relayUrl: string } {
    if (!this.#client || !this.#config || !this.#relayUrl) {
      throw new LightsoutError('BAD_REQUEST', 'no relay configured', { hint: 'Enter the relay URL first.' });
    }
    return { client: this.#client, config: this.#config, relayUrl: this.#relayUrl };
  }

  /** Interactive login; `prompt: 'login'` forces re-authentication (step-up), `mfa` asks for a second factor (acr_values). */
  async login(prompt?: 'login', mfa = false): Promise<AuthState> {
    const { client, config, relayUrl } = this.#require();
    const redirect = await startLoopbackRedirect({ timeoutMs: this.#options.loginTimeoutMs ?? 5 * 60_000 });
    try {
      const request = await client.createSigninRequest({
        redirect_uri: redirect.redirectUri,
        resource: config.audience,
        extraTokenParams: { resource: config.audience },
        // consent: the OP grants offline_access (the refresh token that keeps a shift signed
        // in) only to a request that asks for it (OpenID Connect Core §11). The code comes to a
        // loopback port, which any program here could listen on: the OP shows the person a
        // consent page for it every time (docs/security.md, Credentials).
        prompt: prompt === 'login' ? 'login consent' : 'consent',
        ...(prompt ? { max_age: 0 } : {}),
        ...(mfa ? { acr_values: 'mfa' } : {}),
      });
      await this.#options.openBrowser(request.url);
      const callback = await redirect.callback;
      const error = callback.searchParams.get('error');
      if (error) {
        throw new LightsoutError('UNAUTHENTICATED', `login refused by the identity provider: ${error}`, {
          hint: callback.searchParams.get('error_description') ?? 'Try logging in again.',
        });
      }
      const response = await client.processSigninResponse(callback.href);
      await this.#keep(response, relayUrl, null);
      return this.#changed();
    } finally {
      await redirect.close();
    }
  }

  async stepUp(mfa = false): Promise<AuthState> {
    return this.login('login', mfa);
  }

  /**
   * Sign out for real: revoke the refresh token at the OP (RFC 7009) and end
   * the OP's session in the system browser, where the login happened
   * (RP-initiated logout with the ID token as hint; the OP asks the person to
   * confirm and also ends this client's grant). The local copy goes first and
   * whatever happens: an unreachable relay must not keep anyone signed in here.
   */
  async logout(): Promise<AuthState> {
    const tokens = this.#tokens;
    this.#tokens = null;
    await this.#options.store.clear();
    const state = this.#changed();
    if (tokens !== null && this.#client !== null) {
      const client = this.#client;
      if (tokens.refreshToken) await client.revokeToken(tokens.refreshToken, 'refresh_token').catch(() => undefined);
      if (tokens.idToken) {
        const request = await client.createSignoutRequest({ id_token_hint: tokens.idToken }).catch(() => null);
        if (request !== null) await this.#options.openBrowser(request.url).catch(() => undefined);
      }
    }
    return state;
  }

  /** Forget the tokens without telling the OP (they are already refused there). */
  async #forget(): Promise<void> {
    this.#tokens = null;
    await this.#options.store.clear();
    this.#changed();
  }

  /** A currently valid access token, refreshed first when within the margin of expiry; null when logged out. */
  async accessToken(): Promise<string | null> {
    const tokens = this.#tokens;
    if (!tokens) return null;
    const margin = this.#options.refreshMarginSeconds ?? 60;
    if (tokens.expiresAt - margin > this.#nowSeconds()) return tokens.accessToken;
    // One refresh at a time: concurrent callers share it.
    this.#refreshing ??= this.#refresh(tokens).finally(() => {
      this.#refreshing = null;
    });
    const refreshed = await this.#refreshing;
    return refreshed?.accessToken ?? null;
  }

  async #refresh(tokens: StoredTokens): Promise<StoredTokens | null> {
    const { client, config, relayUrl } = this.#require();
    if (!tokens.refreshToken) {
      await this.#forget();
      return null;
    }
    try {
      const response = await client.useRefreshToken({
        // RefreshState is a type-only export; its shape is all the client reads.
        state: { refresh_token: tokens.refreshToken, session_state: null, scope: tokens.scope, profile: { sub: '', iss: '', aud: '', exp: 0, iat: 0 } } satisfies RefreshState,
        resource: config.audience,
      });
      const kept = await this.#keep(response, relayUrl, tokens);
      this.#changed();
      return kept;
    } catch {
      // Refresh token revoked or expired: the user must log in again.
      await this.#forget();
      return null;
    }
  }

  async #keep(response: SigninResponse, relayUrl: string, previous: StoredTokens | null): Promise<StoredTokens> {
    const profile = response.profile as { preferred_username?: string; name?: string; sub?: string } | undefined;
    const tokens: StoredTokens = {
      relayUrl,
      accessToken: response.access_token,
      refreshToken: response.refresh_token ?? previous?.refreshToken ?? null,
      expiresAt: response.expires_at ?? this.#nowSeconds() + 300,
      idToken: response.id_token ?? previous?.idToken ?? null,
      username: profile?.preferred_username ?? profile?.name ?? profile?.sub ?? previous?.username ?? usernameFromJwt(response.access_token),
      scope: response.scope ?? previous?.scope ?? '',
    };
    this.#tokens = tokens;
    await this.#options.store.save(tokens);
    return tokens;
  }
}

function usernameFromJwt(token: string): string | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { preferred_username?: string; sub?: string };
    return claims.preferred_username ?? claims.sub ?? null;
  } catch {
    return null;
  }
}
