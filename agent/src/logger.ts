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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, base: { component: 'agent' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
