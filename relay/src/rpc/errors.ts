import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
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
  const metadata = new Headers({ [ERROR_CODE_METADATA]: failure.code });
  const retryAfter = failure.details?.['retryAfterSeconds'];
  if (typeof retryAfter === 'number') metadata.set('retry-after', String(retryAfter));
  return new ConnectError(failure.message, connectCodeOf(failure.code), metadata, [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { code: failure.code, hint: failure.hint ?? '' }) }]);
}
