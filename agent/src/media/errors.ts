import { LightsoutError } from '@lightsout/shared';

/** An error as it crosses to the relay in a media status: code, message and hint, never a stack. */
export function errorOf(error: unknown): { code: string; message: string; hint?: string } {
  if (error instanceof LightsoutError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : 'internal error' };
}
