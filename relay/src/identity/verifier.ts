import { LightsoutError, type Role } from '@lightsout/shared';
import { type JWTPayload, type JWTVerifyGetKey, createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';

/**
 * Asymmetric algorithms only. `none` and every HS* are absent on purpose: an
 * HMAC "signed" with our public key must never verify (RFC 8725 §2.1, §3.1).
 */
export const ACCESS_TOKEN_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'];

/** How far apart the issuer's clock and ours may be, in seconds: for exp, iat and auth_time alike. */
export const CLOCK_TOLERANCE_SECONDS = 5;

export interface VerifiedToken {
  subject: string;
  issuer: string;
  expiresAt: number;
  claims: JWTPayload;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

/** Map jose's failures onto our stable codes; never echo the token back. */
export function tokenError(error: unknown): LightsoutError {
  if (error instanceof LightsoutError) return error;
  if (error instanceof joseErrors.JWTExpired) return new LightsoutError('TOKEN_EXPIRED', 'access token expired', { hint: 'log in again (lightsout login)' });
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
    return new LightsoutError('TOKEN_AUDIENCE', 'access token is for another audience', { hint: 'request a token for this relay\'s API audience (see /v1/client-config)' });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'typ') {
    return new LightsoutError('TOKEN_TYPE', 'this JWT is not an access token (its typ header is not one this relay accepts)', { hint: 'send the access token, not the ID token' });
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new LightsoutError('TOKEN_INVALID', 'access token algorithm not allowed');
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new LightsoutError('TOKEN_INVALID', 'access token signed by an unknown key');
  if (error instanceof joseErrors.JOSEError) return new LightsoutError('TOKEN_INVALID', `access token rejected (${error.code})`);
  return new LightsoutError('TOKEN_INVALID', 'access token rejected');
}

export interface TokenVerifierOptions {
  issuer: string;
  /** The `aud` this resource server accepts; with a list, a token for any one of them (RFC 9068 §4). */
  audience: string | string[];
  /** The issuer's public keys, or a key resolver that keeps them (external issuers: issuer-keys.ts). */
  keys: { keys: object[] } | JWTVerifyGetKey;
  /** Accepted `typ` headers; jose compares them without the `application/` prefix (RFC 8725 §3.11). */
  types: string[];
  /** Longest accepted exp − iat: a correctly signed token meant to live for years is still refused. */
  maxLifetimeSeconds: number;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys: JWTVerifyGetKey = typeof options.keys === 'function' ? options.keys : createLocalJWKSet(options.keys as Parameters<typeof createLocalJWKSet>[0]);
  const types = new Set(options.types.map((type) => type.toLowerCase().replace(/^application\//, '')));
  return {
    async verify(token: string) {
      try {
        const { payload, protectedHeader } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: ACCESS_TOKEN_ALGORITHMS,
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        });
        // RFC 9068 §4: the typ check is what keeps an ID token of the same issuer out.
        const type = typeof protectedHeader.typ === 'string' ? protectedHeader.typ.toLowerCase().replace(/^application\//, '') : '';
        if (!types.has(type)) throw new joseErrors.JWTClaimValidationFailed('unexpected "typ" JWT header value', payload, 'typ', 'check_failed');
        // jose checks iat only against a maxTokenAge, which is not ours to set: a token "issued" in the
        // future would pass the lifetime check below however far its exp lies (RFC 7519 §4.1.6).
        if (payload.iat! > Math.floor(Date.now() / 1000) + CLOCK_TOLERANCE_SECONDS) {
          throw new LightsoutError('TOKEN_INVALID', 'access token issued in the future (its iat is ahead of this relay\'s clock)', { hint: "check the clocks of the identity provider and the relay (NTP)" });
        }
        if (payload.exp! - payload.iat! > options.maxLifetimeSeconds) {
          throw new LightsoutError('TOKEN_LIFETIME', `access token lifetime ${payload.exp! - payload.iat!} s is longer than the ${options.maxLifetimeSeconds} s this relay accepts`, {
            hint: 'shorten the access-token lifetime at the issuer',
            details: { maxLifetimeSeconds: options.maxLifetimeSeconds },
          });
        }
        return { subject: payload.sub!, issuer: payload.iss!, expiresAt: payload.exp!, claims: payload };
      } catch (error) {
        throw tokenError(error);
      }
    },
  };
}

/** Who is calling, after the token was verified and mapped to a user. */
export interface Principal {
  subject: string;
  username: string;
  tenant: string;
  role: Role;
  issuer: string;
  expiresAt: number;
  /** When the user last authenticated (OIDC `auth_time`, epoch seconds); step-up reads it. */
  authTime?: number;
  /** How they authenticated (RFC 8176 `amr`: pwd, otp …). */
  amr?: string[];
  /** A person (default) or a tenant's service account (API token). */
  kind?: 'user' | 'service-account';
}
