import { LightsoutError, type ClientConfig } from '@lightsout/shared';
import { errorOf, postForm, readJson, send } from '../http.js';

/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628) against the relay's OP.
 * The access token is requested for the relay API with a resource indicator
 * (RFC 8707), so it is a JWT the relay verifies by signature.
 */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface IssuerMetadata {
  issuer: string;
  tokenEndpoint: string;
  /** RFC 8628; when the issuer has none, the CLI signs in with a loopback redirect (loopback-flow.ts). */
  deviceAuthorizationEndpoint: string | undefined;
  authorizationEndpoint: string | undefined;
  revocationEndpoint: string | undefined;
}

export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  expiresIn: number;
  /** Seconds between polls (RFC 8628 §3.2, default 5). */
  interval: number;
}

export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  /** Seconds since epoch. */
  expiresAt: number;
}

export async function fetchClientConfig(relay: string): Promise<ClientConfig> {
  const response = await send(`${relay}/v1/client-config`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw await errorOf(response);
  const body = (await readJson(response)) as Partial<ClientConfig> | undefined;
  if (typeof body?.issuer !== 'string' || typeof body.cliClientId !== 'string' || typeof body.audience !== 'string') {
    throw new LightsoutError('INTERNAL', `${relay}/v1/client-config did not describe a login`, { hint: 'is this URL a Lightsout relay?' });
  }
  return body as ClientConfig;
}

/** OpenID Connect Discovery 1.0 §4. */
export async function discover(issuer: string): Promise<IssuerMetadata> {
  const response = await send(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new LightsoutError('INTERNAL', `cannot read the OpenID configuration of ${issuer} (${response.status})`);
  const body = (await readJson(response)) as Record<string, unknown> | undefined;
  const text = (name: string) => (typeof body?.[name] === 'string' ? (body[name] as string) : undefined);
  const tokenEndpoint = text('token_endpoint');
  const deviceAuthorizationEndpoint = text('device_authorization_endpoint');
  const authorizationEndpoint = text('authorization_endpoint');
  if (tokenEndpoint === undefined || (deviceAuthorizationEndpoint === undefined && authorizationEndpoint === undefined)) {
    throw new LightsoutError('INTERNAL', `the issuer ${issuer} offers neither the device authorization grant nor an authorization endpoint`, { hint: 'enable one of them for the CLI client at the identity provider' });
  }
  return { issuer, tokenEndpoint, deviceAuthorizationEndpoint, authorizationEndpoint, revocationEndpoint: text('revocation_endpoint') };
}

export function oauthError(body: Record<string, unknown>, fallback: string): LightsoutError {
  const code = typeof body['error'] === 'string' ? body['error'] : 'unknown_error';
  const description = typeof body['error_description'] === 'string' ? `: ${body['error_description']}` : '';
  return new LightsoutError(code === 'invalid_grant' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED', `${fallback} (${code}${description})`, {
    hint: 'run `lightsout login` again',
  });
}

export function tokenSetOf(body: Record<string, unknown>, nowSeconds: number): TokenSet {
  if (typeof body['access_token'] !== 'string') throw new LightsoutError('INTERNAL', 'token response without an access_token');
  const expiresIn = typeof body['expires_in'] === 'number' ? body['expires_in'] : 300;
  return {
    accessToken: body['access_token'],
    refreshToken: typeof body['refresh_token'] === 'string' ? body['refresh_token'] : undefined,
    expiresAt: nowSeconds + expiresIn,
  };
}

/** RFC 8628 §3.1–3.2 */
export async function startDeviceAuthorization(metadata: IssuerMetadata, client: { clientId: string; scopes: string; audience: string; maxAge?: number }): Promise<DeviceAuthorization> {
  // max_age (OIDC Core §3.1.2.1): a step-up asks the OP for a fresh sign-in, not the existing session.
  if (metadata.deviceAuthorizationEndpoint === undefined) throw new LightsoutError('INTERNAL', `the issuer ${metadata.issuer} does not offer the device authorization grant`);
  const { status, body } = await postForm(metadata.deviceAuthorizationEndpoint, { client_id: client.clientId, scope: client.scopes, resource: client.audience, ...(client.maxAge === undefined ? {} : { max_age: String(client.maxAge) }) });
  if (status !== 200) throw oauthError(body, 'the identity provider refused to start a device login');
  const { device_code: deviceCode, user_code: userCode, verification_uri: verificationUri } = body;
  if (typeof deviceCode !== 'string' || typeof userCode !== 'string' || typeof verificationUri !== 'string') {
    throw new LightsoutError('INTERNAL', 'device authorization response is missing device_code, user_code or verification_uri');
  }
  return {
    deviceCode,
    userCode,
    verificationUri,
    verificationUriComplete: typeof body['verification_uri_complete'] === 'string' ? body['verification_uri_complete'] : undefined,
    expiresIn: typeof body['expires_in'] === 'number' ? body['expires_in'] : 600,
    interval: typeof body['interval'] === 'number' && body['interval'] > 0 ? body['interval'] : 5,
  };
}

/**
 * Polls the token endpoint until the user approves, denies or the code
 * expires (RFC 8628 §3.4–3.5): `authorization_pending` keeps the pace,
 * `slow_down` adds 5 s. The loop is bounded by the code's lifetime.
 */
export async function pollDeviceToken(
  metadata: IssuerMetadata,
  client: { clientId: string; audience: string },
  authorization: DeviceAuthorization,
  wait: (milliseconds: number) => Promise<void> = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)),
): Promise<TokenSet> {
  const deadline = Date.now() + authorization.expiresIn * 1000;
  let intervalSeconds = authorization.interval;
  while (Date.now() < deadline) {
    await wait(intervalSeconds * 1000);
    const { status, body } = await postForm(metadata.tokenEndpoint, {
      grant_type: DEVICE_CODE_GRANT,
      device_code: authorization.deviceCode,
      client_id: client.clientId,
      resource: client.audience,
    });
    if (status === 200) return tokenSetOf(body, Math.floor(Date.now() / 1000));
    const error = body['error'];
    if (error === 'authorization_pending') continue;
    if (error === 'slow_down') {
      intervalSeconds += 5;
      continue;
    }
    if (error === 'access_denied') throw new LightsoutError('UNAUTHENTICATED', 'the login was denied in the browser', { hint: 'run `lightsout login` again and approve the request' });
    if (error === 'expired_token') break;
    throw oauthError(body, 'the identity provider refused the device login');
  }
  throw new LightsoutError('TOKEN_EXPIRED', 'the login code expired before it was approved', { hint: 'run `lightsout login` again and approve within the time shown' });
}

/** RFC 6749 §6, with the API resource again so the new access token is for the relay. */
export async function refreshTokens(session: { tokenEndpoint: string; clientId: string; audience: string; refreshToken: string }, options: { timeoutMs?: number } = {}): Promise<TokenSet> {
  const { status, body } = await postForm(
    session.tokenEndpoint,
    {
      grant_type: 'refresh_token',
      refresh_token: session.refreshToken,
      client_id: session.clientId,
      resource: session.audience,
    },
    options,
  );
  if (status !== 200) throw oauthError(body, 'the login session could not be renewed');
  const tokens = tokenSetOf(body, Math.floor(Date.now() / 1000));
  // Rotation is optional (RFC 6749 §6): keep the old refresh token when no new one came.
  return { ...tokens, refreshToken: tokens.refreshToken ?? session.refreshToken };
}

/** RFC 7009: ask the OP to forget a refresh token. True when the OP confirmed. */
export async function revokeToken(revocationEndpoint: string, clientId: string, token: string): Promise<boolean> {
  const { status } = await postForm(revocationEndpoint, { token, token_type_hint: 'refresh_token', client_id: clientId });
  return status === 200;
}
