import { LightsoutError } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../identity/verifier.js';
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
export function stepUpShortfall(principal: Principal, policy: StepUpPolicy, nowSeconds = Math.floor(Date.now() / 1000)): string | undefined {
  if (principal.kind === 'service-account') return undefined;
  if (principal.authTime === undefined || nowSeconds - principal.authTime > policy.maxAgeSeconds) return `sign in again (the last sign-in must be within ${policy.maxAgeSeconds} s)`;
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
    hint: 'sign in again (lightsout login; the web console asks by itself), then retry',
    details: { maxAge: policy.maxAgeSeconds, mfa: policy.mfa, permission },
  });
}
