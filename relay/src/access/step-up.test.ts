import { describe, expect, it } from 'vitest';
import type { Principal } from '../identity/verifier.js';
import { SIGN_IN_TIME_IN_FUTURE, SIGN_IN_TIME_UNKNOWN, stepUpRequired, stepUpShortfall } from './step-up.js';

const NOW = 1_800_000_000;
const POLICY = { maxAgeSeconds: 600, mfa: false };
const person = (authTime: number | undefined): Principal => ({
  subject: 'user-1',
  username: 'alice',
  tenant: 'demo',
  role: 'operator',
  issuer: 'https://issuer.example',
  expiresAt: NOW + 300,
  kind: 'user',
  ...(authTime === undefined ? {} : { authTime }),
});

describe('stepUpShortfall (RFC 9470: the last authentication must be recent)', () => {
  it('takes a sign-in within the window, up to the clock tolerance ahead of this relay', () => {
    expect(stepUpShortfall(person(NOW - 600), POLICY, NOW)).toBeUndefined();
    expect(stepUpShortfall(person(NOW), POLICY, NOW)).toBeUndefined();
    expect(stepUpShortfall(person(NOW + 5), POLICY, NOW)).toBeUndefined();
  });

  it('refuses an old sign-in and one the token does not state', () => {
    expect(stepUpShortfall(person(NOW - 601), POLICY, NOW)).toMatch(/^sign in again/);
    expect(stepUpShortfall(person(undefined), POLICY, NOW)).toBe(SIGN_IN_TIME_UNKNOWN);
  });

  it('takes no sign-in time from the future: a token whose auth_time is ahead of the clock would satisfy step-up for years', () => {
    expect(SIGN_IN_TIME_IN_FUTURE).toMatch(/in the future/);
    expect(stepUpShortfall(person(NOW + 6), POLICY, NOW)).toBe(SIGN_IN_TIME_IN_FUTURE);
    expect(stepUpShortfall(person(NOW + 10 * 365 * 86_400), POLICY, NOW)).toBe(SIGN_IN_TIME_IN_FUTURE);
    // Signing in again at the same issuer gives the same clock: clients are told not to loop.
    expect(stepUpRequired(POLICY, 'power.destructive', SIGN_IN_TIME_IN_FUTURE).toBody()).toMatchObject({ code: 'STEP_UP_REQUIRED', details: { signInTime: 'unknown' } });
  });
});
