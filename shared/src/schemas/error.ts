import Type from 'typebox';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

export const ErrorBodySchema = Type.Object({
  code: Type.Union(Object.keys(ERROR_CODES).map((code) => Type.Literal(code))),
  message: Type.String(),
  hint: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

/** One of ERROR_CODES, typed as ErrorCode (for schemas whose static type is used). */
export const ErrorCodeSchema = Type.Unsafe<ErrorCode>(Type.Union(Object.keys(ERROR_CODES).map((code) => Type.Literal(code))));
