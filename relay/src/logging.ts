import type { FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino replaces with [Redacted]. Secrets must never reach a log line:
 * bearer tokens, cookies, passwords, join tokens, OAuth codes and tokens.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'password',
  'token',
  'joinToken',
  '*.password',
  '*.token',
  '*.joinToken',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.code',
  '*.device_code',
  '*.code_verifier',
];

/** Query parameters whose values are secrets (OAuth codes, tokens). */
const SECRET_QUERY_PARAMETERS = new Set(['code', 'user_code', 'token', 'access_token', 'refresh_token', 'id_token', 'id_token_hint', 'device_code', 'code_verifier', 'state', 'logout_hint']);

export function redactUrl(url: string): string {
  const questionMark = url.indexOf('?');
  if (questionMark < 0) return url;
  const query = new URLSearchParams(url.slice(questionMark + 1));
  for (const key of [...query.keys()]) {
    if (SECRET_QUERY_PARAMETERS.has(key.toLowerCase())) query.set(key, '[Redacted]');
  }
  return `${url.slice(0, questionMark)}?${query.toString()}`;
}

/**
 * Without a destination, lines go to stdout with one synchronous write each.
 * pino's default stdout destination writes asynchronously and, on exit,
 * flushes with a loop that retries every failed write, not only EAGAIN: once
 * whoever reads our stdout is gone (a supervisor killed, a log collector
 * restarting), process.exit() never returns and the relay outlives its own
 * shutdown deadline, holding its port. A synchronous write that fails with
 * EPIPE only ends logging.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req(request: FastifyRequest) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip, id: request.id };
      },
    },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}
