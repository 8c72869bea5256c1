import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { stepUpWording } from './step-up-wording.js';

const refusal = (details: Record<string, unknown> | undefined) => new LightsoutError('STEP_UP_REQUIRED', 'this action needs a recent sign-in: sign in again (the last sign-in must be within 600 s)', details === undefined ? {} : { details });

describe('the step-up prompt in plain words', () => {
  it('names the action and the freshness in minutes, not the relay’s log text', () => {
    expect(stepUpWording(refusal({ permission: 'power.destructive', maxAge: 600, mfa: false }))).toEqual({
      title: 'Confirm it’s you',
      reason: 'Powering a server off, cycling or resetting it needs a sign-in from the last 10 minutes.',
      mfa: false,
    });
  });

  it('asks for the second factor when the tenant requires it', () => {
    expect(stepUpWording(refusal({ permission: 'media.mount', maxAge: 60, mfa: true }))).toEqual({
      title: 'Confirm it’s you, with your second factor',
      reason: 'Mounting virtual media needs a sign-in from the last minute with your second factor.',
      mfa: true,
    });
  });

  it('falls back to general words for an action or a window it does not know', () => {
    expect(stepUpWording(refusal({ permission: 'something.new', maxAge: 45 })).reason).toBe('This action needs a sign-in from the last 45 seconds.');
    expect(stepUpWording(refusal(undefined)).reason).toBe('This action needs a recent sign-in.');
    expect(stepUpWording(refusal({ maxAge: 7200 })).reason).toBe('This action needs a sign-in from the last 2 hours.');
  });
});
