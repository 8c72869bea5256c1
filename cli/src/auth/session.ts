import { LightsoutError, isLoopbackHost } from '@lightsout/shared';
import { LOCK_STALE_MS, readCredentials, withCredentialsLock, writeCredentials, type StoredSession } from '../config-store.js';
import { refreshTokens } from './device-flow.js';

/** Renew this many seconds before expiry so a token does not die in flight. */
const EXPIRY_MARGIN_SECONDS = 30;
/** A renewal gives up well before its lock counts as abandoned (LOCK_STALE_MS), so no other run takes it over mid-refresh. */
export const REFRESH_TIMEOUT_MS = LOCK_STALE_MS - 10_000;

const expiring = (session: StoredSession) => session.expiresAt - EXPIRY_MARGIN_SECONDS <= Date.now() / 1000;

export function normaliseRelay(url: string, env: NodeJS.ProcessEnv = {}): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LightsoutError('BAD_REQUEST', `${url} is not a URL`, { hint: 'pass the relay as http(s)://host[:port]' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new LightsoutError('BAD_REQUEST', `${url} is not an http(s) URL`, { hint: 'pass the relay as http(s)://host[:port]' });
  }
  // Bearer and refresh tokens travel in every request: only over TLS (RFC 6750 §5.3), or to this machine itself.
  if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname) && env['LIGHTSOUT_INSECURE_HTTP'] !== '1') {
    throw new LightsoutError('BAD_REQUEST', `${url} is plain http to another machine: your tokens would cross the network readable`, {
      hint: 'use the relay\'s https:// URL (plain http only to a relay on this machine); LIGHTSOUT_INSECURE_HTTP=1 allows it anyway, on a network you trust',
    });
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** --relay, then LIGHTSOUT_RELAY, then the relay of the last login. */
export async function resolveRelay(flag: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const named = flag ?? env['LIGHTSOUT_RELAY'];
  if (named) return normaliseRelay(named, env);
  const stored = await readCredentials(env);
  if (stored.current) return stored.current;
  throw new LightsoutError('BAD_REQUEST', 'no relay given', { hint: 'pass --relay https://relay.example, set LIGHTSOUT_RELAY, or log in once with `lightsout login --relay URL`' });
}

/** Supplies the bearer token for API calls and renews it when asked. */
export interface TokenSource {
  token(): Promise<string>;
  /** After a 401: renew if possible; false when there is nothing to renew with. */
  renew(): Promise<boolean>;
}

/** `LIGHTSOUT_TOKEN`: for scripts and CI, bypasses the stored login entirely. */
export function staticTokenSource(token: string): TokenSource {
  return { token: async () => token, renew: async () => false };
}

export function storedTokenSource(relay: string, env: NodeJS.ProcessEnv): TokenSource {
  let session: StoredSession | undefined;
  const load = async (): Promise<StoredSession> => {
    if (session) return session;
    const file = await readCredentials(env);
    session = file.sessions[relay];
    if (!session) throw new LightsoutError('UNAUTHENTICATED', `not logged in to ${relay}`, { hint: `run \`lightsout login --relay ${relay}\`` });
    return session;
  };
  /**
   * Read → refresh → write under the credentials lock, reading again once
   * it is held: another run may have renewed meanwhile, and its tokens are
   * used as they are (its refresh token already replaced the one this run
   * read, RFC 6749 §6; presenting the old one would revoke the grant).
   */
  const renew = async (): Promise<boolean> => {
    const used = await load();
    return withCredentialsLock(env, async () => {
      const file = await readCredentials(env);
      const stored = file.sessions[relay];
      if (stored === undefined) return false;
      if (stored.accessToken !== used.accessToken && !expiring(stored)) {
        session = stored;
        return true;
      }
      if (!stored.refreshToken) return false;
      const tokens = await refreshTokens({ tokenEndpoint: stored.tokenEndpoint, clientId: stored.clientId, audience: stored.audience, refreshToken: stored.refreshToken }, { timeoutMs: REFRESH_TIMEOUT_MS });
      session = { ...stored, accessToken: tokens.accessToken, expiresAt: tokens.expiresAt };
      if (tokens.refreshToken !== undefined) session.refreshToken = tokens.refreshToken;
      file.sessions[relay] = session;
      await writeCredentials(env, file);
      return true;
    });
  };
  return {
    async token() {
      const current = await load();
      if (expiring(current)) {
        if (!(await renew())) {
          throw new LightsoutError('TOKEN_EXPIRED', `the login to ${relay} has expired`, { hint: `run \`lightsout login --relay ${relay}\`` });
        }
      }
      return session!.accessToken;
    },
    renew,
  };
}

export function tokenSourceFor(relay: string, env: NodeJS.ProcessEnv): TokenSource {
  const token = env['LIGHTSOUT_TOKEN'];
  return token ? staticTokenSource(token) : storedTokenSource(relay, env);
}
