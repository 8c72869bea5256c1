import { DEFAULT_HINTS, type ErrorBody, type ErrorCode, LightsoutError, httpStatusOf, isErrorCode } from '@lightsout/shared';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isStoreUnavailable } from '../store/unavailable.js';

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
  // The database went away (a PostgreSQL restart): the request did nothing, and the caller may retry.
  if (isStoreUnavailable(error)) return { status: 503, body: { code: 'STORE_UNAVAILABLE', message: "the relay's database cannot be reached", hint: DEFAULT_HINTS.STORE_UNAVAILABLE } };
  // Anything else is a bug: the details go to the log, never to the caller.
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
}

/**
 * Node's HTTP parser refused the request before Fastify saw it (Fastify's
 * `clientErrorHandler`): the answer is written on the socket by hand, with
 * the same body shape and the headers that cost nothing here.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, body]: [number, string, ErrorBody] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', { code: 'HEADERS_TOO_LARGE', message: 'the request\'s headers are larger than this relay accepts (16 KiB)' }]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', { code: 'BAD_REQUEST', message: 'the request did not arrive in time' }]
        : [400, 'Bad Request', { code: 'BAD_REQUEST', message: 'malformed HTTP request' }];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}

/** Fastify's own refusals before routing (an undecodable URL …): `frameworkErrors`. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const body: ErrorBody = error.code === 'FST_ERR_BAD_URL' ? { code: 'BAD_REQUEST', message: 'the URL is not valid (bad percent-encoding)' } : toErrorBody(error).body;
  void reply.status(httpStatusOf(body.code)).type('application/json').send(body);
}

/**
 * Rewrite a non-JSON error answer written straight to a Node response (the
 * tus server answers some refusals itself, as text: "Invalid upload-length")
 * into {code, message}. The status stays: tus clients read 412, 410 and 460.
 */
export function jsonErrorBodies(response: ServerResponse): void {
  const writeHead = response.writeHead.bind(response) as (status: number, ...rest: unknown[]) => ServerResponse;
  const write = response.write.bind(response) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const end = response.end.bind(response) as (...rest: unknown[]) => ServerResponse;
  let held: { status: number; headers: Record<string, string | string[] | number>; chunks: Buffer[] } | undefined;
  response.writeHead = ((status: number, ...rest: unknown[]) => {
    const headers = headerObject(rest.find((value) => typeof value === 'object' && value !== null));
    const type = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
    if (status < 400 || String(type ?? response.getHeader('content-type') ?? '').includes('json')) return writeHead(status, ...rest);
    held = { status, headers, chunks: [] };
    return response;
  }) as typeof response.writeHead;
  response.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (held === undefined) return write(chunk, ...rest);
    held.chunks.push(bytesOf(chunk));
    return true;
  }) as typeof response.write;
  response.end = ((...rest: unknown[]) => {
    if (held === undefined) return end(...rest);
    const chunk = rest[0];
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') held.chunks.push(bytesOf(chunk));
    const text = Buffer.concat(held.chunks).toString('utf8').trim();
    const body = alreadyErrorBody(text) ? text : JSON.stringify(tusErrorBody(held.status, text));
    const headers = Object.fromEntries(Object.entries(held.headers).filter(([name]) => !['content-type', 'content-length'].includes(name.toLowerCase())));
    writeHead(held.status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    held = undefined;
    return end(body);
  }) as typeof response.end;
}

/** Our own errors reach tus's writer already shaped (onResponseError), only labelled text/plain. */
function alreadyErrorBody(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    return isErrorCode(parsed.code) && typeof parsed.message === 'string';
  } catch {
    return false;
  }
}

function tusErrorBody(status: number, text: string): ErrorBody {
  const code: ErrorCode = status >= 500 ? 'INTERNAL' : (TUS_ERROR_CODES[status] ?? CLIENT_ERROR_CODES[status] ?? 'BAD_REQUEST');
  // A 5xx text may carry internals (tus appends the exception's message): never forwarded.
  return { code, message: status >= 500 || text === '' ? code.toLowerCase().replaceAll('_', ' ') : text };
}

function bytesOf(chunk: unknown): Buffer {
  return chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.from(String(chunk));
}

/** tus statuses (tus 1.0.0 §3, checksum extension) → our codes. */
const TUS_ERROR_CODES: Record<number, ErrorCode> = { 410: 'NOT_FOUND', 412: 'PROTOCOL_VERSION', 415: 'BAD_REQUEST', 460: 'CHECKSUM_MISMATCH' };

/** writeHead's headers as an object, whether given as one or as a flat [name, value, …] list. */
function headerObject(value: unknown): Record<string, string | string[] | number> {
  if (Array.isArray(value)) {
    const headers: Record<string, string> = {};
    for (let index = 0; index + 1 < value.length; index += 2) headers[String(value[index])] = String(value[index + 1]);
    return headers;
  }
  return (value ?? {}) as Record<string, string | string[] | number>;
}

function isPeerRefusal(code: ErrorCode): boolean {
  return code.startsWith('BMC_') || code.startsWith('AGENT_') || code.startsWith('MEDIA_');
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorBody(error);
    // a BMC's or agent's ordinary refusal (401 from the BMC, no log service, agent offline) is a
    // warning with its reason, not an error with a stack: those are for the relay's own faults
    if (error instanceof LightsoutError && isPeerRefusal(body.code)) request.log.warn({ code: body.code, reason: body.message }, 'the agent or BMC refused the request');
    else if (status >= 500) request.log.error({ err: error }, 'request failed');
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
