import { LightsoutError } from '@lightsout/shared';
import pino, { type Logger } from 'pino';

/**
 * Secrets the agent holds (BMC passwords, the join token, bearer JWTs) must
 * never reach a log line, even if someone logs a whole config object by
 * mistake. Redaction is by key name at the depths our objects have.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  '*.*.*.password',
  'credentials',
  '*.credentials',
  '*.*.credentials',
  '*.*.*.credentials',
  'joinToken',
  '*.joinToken',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'privateKey',
  '*.privateKey',
];

/**
 * Without a destination, lines go to stdout with one synchronous write each:
 * pino's default asynchronous destination flushes on exit with a loop that
 * retries every failed write, so an agent whose stdout reader is gone (a
 * supervisor killed) would never finish exiting. A synchronous write that
 * fails with EPIPE only ends logging.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, base: { component: 'agent' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

/** An error that is a BMC's (or an image server's) answer: it refused, could not, or never did what was asked. */
export function isBmcAnswer(error: unknown): error is LightsoutError {
  return error instanceof LightsoutError && (error.code.startsWith('BMC_') || error.code.startsWith('MEDIA_') || error.code === 'NOT_FOUND' || error.code === 'CONFLICT');
}

/**
 * The log fields of a failure. A BMC saying no (wrong credentials, no log
 * service, an unsupported command, an image it never read) is an ordinary
 * answer, not an agent fault: its code, its own reason (the BMC's messages
 * when it sent some) and the hint, no stack. Anything else is a bug and
 * keeps its stack.
 */
export function failureFields(error: unknown): Record<string, unknown> {
  if (!isBmcAnswer(error)) return { err: error };
  const bmcMessages = Array.isArray(error.details?.messages) ? (error.details.messages as unknown[]).slice(0, 3) : undefined;
  return { code: error.code, reason: error.message, ...(bmcMessages?.length ? { bmcMessages } : {}), ...(error.hint ? { hint: error.hint } : {}) };
}
