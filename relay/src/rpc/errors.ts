import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { type UniversalHandler, createAsyncIterable } from '@connectrpc/connect/protocol';
import { ERROR_CODES, type ErrorCode, LightsoutError } from '@lightsout/shared';
import { ErrorInfoSchema } from '@lightsout/shared/rpc';
import type { FastifyBaseLogger } from 'fastify';

/** The trailer (gRPC) or header (Connect unary) that names the relay's stable error code. */
export const ERROR_CODE_METADATA = 'lightsout-error-code';

/**
 * gRPC status for each HTTP status our codes map to (shared/src/errors.ts),
 * after the gRPC status code definitions (grpc/doc/statuscodes.md): the
 * stable code itself travels beside it, so a client needs only the status
 * for its retry logic and the code for everything else.
 */
const BY_HTTP_STATUS: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  // BMC_BUSY, CONFLICT: the state does not allow it now.
  409: Code.FailedPrecondition,
  413: Code.ResourceExhausted,
  422: Code.InvalidArgument,
  429: Code.ResourceExhausted,
  431: Code.InvalidArgument,
  501: Code.Unimplemented,
  502: Code.Unavailable,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
};

export function connectCodeOf(code: ErrorCode): Code {
  return BY_HTTP_STATUS[ERROR_CODES[code]] ?? Code.Internal;
}

/** The stable code as metadata (header or trailer) and as an ErrorInfo detail: what every RPC error carries. */
function withRelayCode(error: ConnectError, code: ErrorCode, hint?: string): ConnectError {
  error.metadata.set(ERROR_CODE_METADATA, code);
  error.details.push({ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { code, hint: hint ?? '' }) });
  return error;
}

/**
 * Any failure of a procedure as the caller's protocol carries it: the gRPC
 * status, the message, the stable code as metadata and as an ErrorInfo
 * detail, `retry-after` for RATE_LIMITED. Never a stack trace: an error that
 * is not ours is INTERNAL, and the log has the rest.
 */
export function toConnectError(error: unknown, log: FastifyBaseLogger): ConnectError {
  if (error instanceof ConnectError) return error;
  const failure = error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', 'the call failed; the relay log has the details');
  if (!(error instanceof LightsoutError)) log.error({ err: error }, 'RPC failed');
  const connectError = new ConnectError(failure.message, connectCodeOf(failure.code));
  const retryAfter = failure.details?.['retryAfterSeconds'];
  if (typeof retryAfter === 'number') connectError.metadata.set('retry-after', String(retryAfter));
  return withRelayCode(connectError, failure.code, failure.hint);
}

const MALFORMED_HINT = 'encode the request message as its content type says, from the .proto in shared/proto/lightsout/v1';

/**
 * Connect's own refusals of a request — a body it cannot decode as protobuf
 * or JSON, a message over readMaxBytes, a malformed timeout header — are
 * raised by its protocol handler before any interceptor or procedure runs,
 * so toConnectError never sees them. This request gate (it runs before the
 * body is read) listens on the call's signal: every protocol handler aborts
 * it with the error before writing that error out (connect-es, each
 * protocol's handler-factory), so the code is added in time, in the
 * caller's protocol. The gRPC status stays Connect's, except undecodable
 * protobuf: connect-es calls it INTERNAL, but it is the caller's input
 * (INVALID_ARGUMENT, as connect-go and JSON bodies have it; gRPC status
 * codes: INTERNAL means "invariants … broken" on the server).
 */
export function codeConnectRefusals(context: HandlerContext): void {
  const signal = context.signal;
  signal.addEventListener(
    'abort',
    () => {
      const error: unknown = signal.reason;
      if (!(error instanceof ConnectError) || error.metadata.has(ERROR_CODE_METADATA)) return;
      if (error.code === Code.Internal && error.rawMessage.startsWith('parse binary:')) {
        // ConnectError's code is read-only in its type only: the handler holds this very object and writes it next.
        Object.defineProperty(error, 'code', { value: Code.InvalidArgument });
      }
      if (error.code === Code.InvalidArgument) withRelayCode(error, 'MALFORMED_MESSAGE', MALFORMED_HINT);
      else if (error.code === Code.ResourceExhausted && error.rawMessage.includes('readMaxBytes')) withRelayCode(error, 'PAYLOAD_TOO_LARGE');
    },
    { once: true },
  );
}

/**
 * A content type none of the three protocols speaks (text/plain, none at
 * all) is answered by Connect with a bare 415 (Connect protocol, "Unary-Request";
 * gRPC over HTTP/2, "Requests": HTTP status 415): there is no protocol to
 * carry an error in, so it gets the relay's plain error body and the code
 * header, as a REST refusal would.
 */
export function withMediaTypeRefusalBody(handler: UniversalHandler): UniversalHandler {
  const body = new TextEncoder().encode(
    JSON.stringify({ code: 'BAD_REQUEST' satisfies ErrorCode, message: 'unsupported content type: send Connect (application/proto, application/json), gRPC (application/grpc) or gRPC-Web (application/grpc-web)' }),
  );
  const answer: UniversalHandler = Object.assign(async (request: Parameters<UniversalHandler>[0]) => {
    const response = await handler(request);
    if (response.status !== 415 || response.body !== undefined) return response;
    const header = new Headers(response.header);
    header.set('content-type', 'application/json');
    header.set('content-length', String(body.byteLength));
    header.set(ERROR_CODE_METADATA, 'BAD_REQUEST');
    return { ...response, header, body: createAsyncIterable([body]) };
  }, handler);
  return answer;
}
