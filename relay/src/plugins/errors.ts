import { type ErrorBody, type ErrorCode, LightsoutError, httpStatusOf } from '@lightsout/shared';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const CLIENT_ERROR_CODES: Record<number, ErrorCode> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 413: 'PAYLOAD_TOO_LARGE', 429: 'RATE_LIMITED' };

/** Map anything thrown by a route to the ErrorBody JSON with a stable code. */
export function toErrorBody(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof LightsoutError) return { status: error.httpStatus, body: error.toBody() };
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fastifyError.validation !== undefined) {
    return {
      status: 400,
      body: { code: 'VALIDATION_FAILED', message: fastifyError.message ?? 'request failed validation', hint: 'check the request against the API schema at /docs' },
    };
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' } };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    // Fastify's own client errors (bad JSON, wrong content type …): status always agrees with the code.
    const code: ErrorCode = CLIENT_ERROR_CODES[fastifyError.statusCode] ?? 'BAD_REQUEST';
    return { status: httpStatusOf(code), body: { code, message: fastifyError.message ?? code } };
  }
  // Anything else is a bug: the details go to the log, never to the caller.
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorBody(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code }, 'request refused');
    // RFC 9110 §10.2.3: a 429 says when to come back.
    const retryAfter = body.details?.['retryAfterSeconds'];
    if (status === 429 && typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    return reply.status(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` };
    return reply.status(404).send(body);
  });
}

export default fp(errorsPlugin, { name: 'lightsout-errors' });
