import type { ClientConfig } from '@lightsout/shared';
import { UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import type { AuthUser, Platform, PlatformAuth } from './types.js';

const RETURN_KEY = 'lightsout.login.return';
/** The step-up popup's window name starts so: the page loaded in it finishes the sign-in for its opener. */
const STEP_UP_WINDOW = 'lightsout-step-up-';

function userOf(user: User | null): AuthUser | null {
  if (!user || user.expired) return null;
  const profile = user.profile as { preferred_username?: string; name?: string; sub: string; iss?: string };
  return { username: profile.preferred_username ?? profile.name ?? profile.sub, account: profile.iss ? `${profile.iss} ${profile.sub}` : null };
}

/**
 * Browser login with oidc-client-ts: authorization code + PKCE against the
 * relay's OpenID Provider, redirecting back to `/`. Tokens stay in
 * sessionStorage (gone with the tab); the refresh token renews them silently.
 */
class WebAuth implements PlatformAuth {
  #manager: UserManager | null = null;

  async #userManager(): Promise<UserManager> {
    if (this.#manager) return this.#manager;
    const response = await fetch('/v1/client-config', { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`the relay did not give its login configuration (HTTP ${response.status})`);
    const config = (await response.json()) as ClientConfig;
    const origin = window.location.origin;
    this.#manager = new UserManager({
      authority: config.issuer,
      client_id: config.clientId,
      redirect_uri: `${origin}/`,
      post_logout_redirect_uri: `${origin}/`,
      scope: config.scopes,
      response_type: 'code',
      response_mode: 'query',
      resource: config.audience,
      extraTokenParams: { resource: config.audience },
      loadUserInfo: false,
      // OpenID Connect Core §11: the OP grants offline_access (a refresh token) only to a
      // request with prompt=consent; without it the console is signed out when its
      // 15-minute access token expires. Consent is granted without asking (first party).
      prompt: 'consent',
      automaticSilentRenew: true,
      userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    });
    return this.#manager;
  }

  async start(): Promise<AuthUser | null> {
    const manager = await this.#userManager();
    const params = new URLSearchParams(window.location.search);
    if (params.has('state') && (params.has('code') || params.has('error'))) {
      if (window.opener !== null && window.name.startsWith(STEP_UP_WINDOW)) {
        // The step-up popup came back: hand the answer to the console that opened it (it closes this window).
        await manager.signinPopupCallback();
        return null;
      }
      const user = await manager.signinRedirectCallback();
      // Drop ?code=&state= from the address bar and history; go back where the login started.
      const back = sessionStorage.getItem(RETURN_KEY) ?? '/';
      sessionStorage.removeItem(RETURN_KEY);
      window.history.replaceState(null, '', back);
      return userOf(user);
    }
    const user = await manager.getUser();
    if (user && user.expired && user.refresh_token) {
      try {
        return userOf(await manager.signinSilent());
      } catch {
        await manager.removeUser();
        return null;
      }
    }
    return userOf(user);
  }

  async login(): Promise<AuthUser | null> {
    const manager = await this.#userManager();
    sessionStorage.setItem(RETURN_KEY, window.location.pathname + window.location.search);
    await manager.signinRedirect();
    return null; // the page is leaving
  }

  /**
   * Sign out for real: revoke the refresh token at the OP (RFC 7009), then
   * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the page
   * goes to the OP's end-session endpoint with the ID token as hint, the
   * person confirms, the OP ends its session (and this client's grant) and
   * comes back to `/`. Forgetting the tokens here alone would leave the OP's
   * session cookie signing straight back in.
   */
  async logout(): Promise<void> {
    const manager = await this.#userManager();
    const user = await manager.getUser();
    if (!user) return;
    try {
      await manager.revokeTokens(['refresh_token']);
    } catch {
      // Unreachable OP: the end-session step below still ends the grant when it gets there.
    }
    await manager.signoutRedirect({ id_token_hint: user.id_token });
  }

  async accessToken(): Promise<string | null> {
    const manager = await this.#userManager();
    const user = await manager.getUser();
    if (!user) return null;
    if ((user.expires_in ?? 0) > 30) return user.access_token;
    if (!user.refresh_token) return null;
    try {
      return (await manager.signinSilent())?.access_token ?? null;
    } catch {
      return null;
    }
  }

  /**
   * A fresh sign-in in a popup (the OP's login page, `prompt=login`,
   * `max_age=0`, and `acr_values=mfa` when the tenant wants a second factor):
   * the console and its tabs stay as they are, and the action that needed it
   * is retried once the popup is done. A browser that blocks the popup falls
   * back to the redirect, which keeps the tabs and layout but not the action.
   */
  async stepUp(request: { mfa: boolean }): Promise<boolean> {
    const manager = await this.#userManager();
    const fresh = { prompt: 'login consent', max_age: 0, ...(request.mfa ? { acr_values: 'mfa' } : {}) };
    try {
      await manager.signinPopup({ ...fresh, popupWindowTarget: `${STEP_UP_WINDOW}${Date.now()}`, popupWindowFeatures: { width: 520, height: 720 } });
      return true;
    } catch (error) {
      // "Popup closed by user" (or the OP refused): no retry. A blocked popup never opened: redirect instead.
      if (!(error instanceof Error) || !/popup.*(blocked|failed to open)|window\.open/i.test(error.message)) return false;
    }
    sessionStorage.setItem(RETURN_KEY, window.location.pathname + window.location.search);
    await manager.signinRedirect(fresh);
    return false;
  }
}

export function createWebPlatform(): Platform {
  return {
    kind: 'web',
    relayUrl: () => window.location.origin,
    setRelayUrl: async () => {},
    auth: new WebAuth(),
    notify: (title, body) => {
      if (!('Notification' in window)) return;
      if (Notification.permission === 'granted') new Notification(title, { body });
      else if (Notification.permission === 'default') void Notification.requestPermission();
    },
    popOut: (query, title) => {
      const popup = window.open(`/?${query}`, `lightsout-${title}`, 'popup,width=1024,height=768');
      popup?.focus();
    },
    saveFile: async (name, blob) => {
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
    localTerminal: null,
    vncClient: null,
    readLocalFile: null,
  };
}
