import type { LightsoutError } from '@lightsout/shared';

/**
 * What the step-up prompt says, in plain words, from the relay's
 * STEP_UP_REQUIRED details (`permission`, `maxAge` in seconds, `mfa`) rather
 * than its message, which is written for logs ("…within 600 s").
 */
export interface StepUpWording {
  title: string;
  /** Why: what needs the fresh sign-in, and how fresh. */
  reason: string;
  mfa: boolean;
}

const ACTIONS: Record<string, string> = {
  'power.destructive': 'Powering a server off, cycling or resetting it',
  'console.takeover': 'Taking control of a console someone else is using',
  'media.mount': 'Mounting virtual media',
};

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

export function stepUpWording(error: Pick<LightsoutError, 'details'>): StepUpWording {
  const details = error.details ?? {};
  const mfa = details['mfa'] === true;
  const permission = typeof details['permission'] === 'string' ? details['permission'] : undefined;
  const maxAge = typeof details['maxAge'] === 'number' && details['maxAge'] > 0 ? details['maxAge'] : undefined;
  const action = (permission === undefined ? undefined : ACTIONS[permission]) ?? 'This action';
  const freshness = maxAge === undefined ? 'a recent sign-in' : `a sign-in from the last ${duration(maxAge)}`;
  return {
    title: mfa ? 'Confirm it’s you, with your second factor' : 'Confirm it’s you',
    reason: `${action} needs ${freshness}${mfa ? ' with your second factor' : ''}.`,
    mfa,
  };
}
