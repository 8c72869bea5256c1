import { LightsoutError } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { CLOCK_TOLERANCE_SECONDS, type Principal } from '../identity/verifier.js';
import type { Permission } from './permissions.js';

/** Authentication methods (RFC 8176) that count as a second factor. */
const SECOND_FACTORS = new Set(['otp', 'mfa', 'hwk', 'swk']);

export interface StepUpPolicy {
  /** The last authentication must be at most this old for a destructive action. */
  maxAgeSeconds: number;
  /** The tenant requires a second factor for destructive actions. */
  mfa: boolean;
}

/**
 * Why a principal may not do a destructive action right now, or undefined.
 * Service accounts (API tokens) have no interactive login to repeat: their
 * role is the whole decision (docs/security.md says so).
 */
/**
 * The shortfall of a token that says nothing of when its holder signed in:
 * an external issuer that leaves `auth_time` out of access tokens, with no
 * other source configured. Signing in again gives another such token, so
 * the refusal names what the operator sets instead of looping the person.
 */
export const SIGN_IN_TIME_UNKNOWN =
  "the identity provider's token does not say when you signed in (no auth_time), so signing in again cannot satisfy this: the relay's operator names the claim that carries it (identity.external.claims.authTime) or accepts the token's iat (identity.external.authTimeFromIssuedAt), docs/security.md";

/**
 * The shortfall of a token whose `auth_time` is ahead of this relay's clock
 * by more than the tolerance: a sign-in that has not happened yet says
 * nothing of when the person signed in, and taken as it is, it would count
 * as recent for as long as it lies ahead (a negative age passes any maximum).
 */
export const SIGN_IN_TIME_IN_FUTURE =
  "the token's sign-in time (auth_time) is in the future, ahead of the relay's clock, so it is not taken as a sign-in: the identity provider's clock and the relay's must agree (NTP)";

/** Shortfalls signing in again cannot mend: the same issuer puts the same kind of sign-in time in the next token. */
const SIGN_IN_TIME_UNUSABLE = new Set([SIGN_IN_TIME_UNKNOWN, SIGN_IN_TIME_IN_FUTURE]);

export function stepUpShortfall(principal: Principal, policy: StepUpPolicy, nowSeconds = Math.floor(Date.now() / 1000)): string | undefined {
  if (principal.kind === 'service-account') return undefined;
  if (principal.authTime === undefined) return SIGN_IN_TIME_UNKNOWN;
  if (principal.authTime > nowSeconds + CLOCK_TOLERANCE_SECONDS) return SIGN_IN_TIME_IN_FUTURE;
  if (nowSeconds - principal.authTime > policy.maxAgeSeconds) return `sign in again (the last sign-in must be within ${policy.maxAgeSeconds} s)`;
  if (policy.mfa && !(principal.amr ?? []).some((method) => SECOND_FACTORS.has(method))) return 'sign in again with your second factor (this tenant requires MFA)';
  return undefined;
}

/** The RFC 9470 challenge a client reads to know it must re-authenticate, and how. */
export function stepUpChallenge(policy: StepUpPolicy): string {
  return `Bearer realm="lightsout", error="insufficient_user_authentication", error_description="a recent authentication is required", max_age=${policy.maxAgeSeconds}${policy.mfa ? ', acr_values="mfa"' : ''}`;
}

export async function stepUpPolicy(app: FastifyInstance, tenant: string): Promise<StepUpPolicy> {
  const row = await app.store.selectFrom('tenants').select('require_mfa').where('id', '=', tenant).executeTakeFirst();
  return { maxAgeSeconds: app.config.identity.stepUpMaxAgeSeconds, mfa: row?.require_mfa === 1 };
}

/** STEP_UP_REQUIRED (401; the caller adds the challenge header) for a shortfall stepUpShortfall found. */
export function stepUpRequired(policy: StepUpPolicy, permission: Permission, shortfall: string): LightsoutError {
  return new LightsoutError('STEP_UP_REQUIRED', `this action needs a recent sign-in: ${shortfall}`, {
    hint: SIGN_IN_TIME_UNUSABLE.has(shortfall) ? "ask the relay's operator: the identity provider's tokens carry no usable sign-in time" : 'sign in again (lightsout login; the web console asks by itself), then retry',
    // signInTime "unknown": clients show this refusal rather than send the person to sign in again (shared signingInAgainHelps).
    details: { maxAge: policy.maxAgeSeconds, mfa: policy.mfa, permission, ...(SIGN_IN_TIME_UNUSABLE.has(shortfall) ? { signInTime: 'unknown' } : {}) },
  });
}
