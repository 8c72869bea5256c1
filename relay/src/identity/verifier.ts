import { LightsoutError, type Role } from '@lightsout/shared';
import { type JWTPayload, type JWTVerifyGetKey, createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';

/**
 * Asymmetric algorithms only. `none` and every HS* are absent on purpose: an
 * HMAC "signed" with our public key must never verify (RFC 8725 §2.1, §3.1).
 */
export const ACCESS_TOKEN_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'];

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
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new LightsoutError('TOKEN_INVALID', 'access token algorithm not allowed');
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new LightsoutError('TOKEN_INVALID', 'access token signed by an unknown key');
  if (error instanceof joseErrors.JOSEError) return new LightsoutError('TOKEN_INVALID', `access token rejected (${error.code})`);
  return new LightsoutError('TOKEN_INVALID', 'access token rejected');
}

export function createTokenVerifier(options: { issuer: string; audience: string; jwks: { keys: object[] } | URL }): TokenVerifier {
  const keys: JWTVerifyGetKey = options.jwks instanceof URL ? createRemoteJWKSet(options.jwks) : createLocalJWKSet(options.jwks as Parameters<typeof createLocalJWKSet>[0]);
  return {
    async verify(token: string) {
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: ACCESS_TOKEN_ALGORITHMS,
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: 5,
        });
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

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, 'tenant-admin': 2, 'provider-admin': 3 };

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[minimum];
}
