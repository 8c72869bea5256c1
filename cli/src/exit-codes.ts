import type { ErrorCode } from '@lightsout/shared';

/** The CLI's exit codes (cli/README.md): stable, so scripts can branch on them. */
export const ExitCode = {
  OK: 0,
  /** Any other failure, including API errors without a more specific class. */
  ERROR: 1,
  /** Wrong command line, or the relay refused the input as invalid. */
  USAGE: 2,
  /** Not logged in, session expired, or not allowed. */
  AUTH: 3,
  NOT_FOUND: 4,
  /** The agent or the BMC behind it could not do it right now. */
  UNAVAILABLE: 5,
  /** Done, but the BMC did not do exactly what was asked (read back after the change): the warning says what differs. */
  BMC_DIFFERS: 6,
  /** A bulk job finished with at least one server failed (the table or JSON says which). */
  BULK_FAILED: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const BY_CODE: Partial<Record<ErrorCode, ExitCode>> = {
  BAD_REQUEST: ExitCode.USAGE,
  VALIDATION_FAILED: ExitCode.USAGE,
  UNAUTHENTICATED: ExitCode.AUTH,
  TOKEN_EXPIRED: ExitCode.AUTH,
  TOKEN_INVALID: ExitCode.AUTH,
  TOKEN_AUDIENCE: ExitCode.AUTH,
  TOKEN_TYPE: ExitCode.AUTH,
  TOKEN_LIFETIME: ExitCode.AUTH,
  ISSUER_UNAVAILABLE: ExitCode.UNAVAILABLE,
  STORE_UNAVAILABLE: ExitCode.UNAVAILABLE,
  STEP_UP_REQUIRED: ExitCode.AUTH,
  FORBIDDEN: ExitCode.AUTH,
  NOT_FOUND: ExitCode.NOT_FOUND,
  AGENT_OFFLINE: ExitCode.UNAVAILABLE,
  WRONG_GATEWAY: ExitCode.UNAVAILABLE,
  AGENT_TIMEOUT: ExitCode.UNAVAILABLE,
  BMC_UNREACHABLE: ExitCode.UNAVAILABLE,
  BMC_AUTH_FAILED: ExitCode.UNAVAILABLE,
  BMC_PROTOCOL_ERROR: ExitCode.UNAVAILABLE,
  BMC_TIMEOUT: ExitCode.UNAVAILABLE,
  BMC_UNSUPPORTED: ExitCode.UNAVAILABLE,
  BMC_BUSY: ExitCode.UNAVAILABLE,
  BMC_CERT_MISMATCH: ExitCode.UNAVAILABLE,
  MEDIA_NOT_FETCHED: ExitCode.UNAVAILABLE,
  POWER_UNCONFIRMED: ExitCode.UNAVAILABLE,
};

export function exitCodeOf(code: ErrorCode): ExitCode {
  return BY_CODE[code] ?? ExitCode.ERROR;
}
