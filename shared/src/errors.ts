/**
 * Stable error codes. Every error that crosses a process boundary (HTTP body,
 * control message, CLI exit) carries one of these, never just a message.
 * Codes are part of the public API: add new ones, never rename or reuse.
 */
export const ERROR_CODES = {
  // request / input
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  PAYLOAD_TOO_LARGE: 413,
  /** The request's header section is larger than the server accepts (RFC 6585 §5). */
  HEADERS_TOO_LARGE: 431,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  /** A new password is too easy to guess (too short, common, or built from the username). */
  PASSWORD_WEAK: 400,
  // identity
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_INVALID: 401,
  TOKEN_AUDIENCE: 401,
  /** The JWT's `typ` header is not an access token's (RFC 9068 §2.1: `at+jwt`), e.g. an ID token. */
  TOKEN_TYPE: 401,
  /** The token's lifetime (exp − iat) is longer than this relay accepts for its kind. */
  TOKEN_LIFETIME: 401,
  /** The external issuer's keys are not known yet and the issuer cannot be reached to fetch them. */
  ISSUER_UNAVAILABLE: 503,
  /** The relay's database cannot be reached (a PostgreSQL restart): nothing was done; retry shortly. */
  STORE_UNAVAILABLE: 503,
  STEP_UP_REQUIRED: 401,
  /** Adding a first second factor in a tenant that requires MFA needs an admin-issued enrollment code. */
  MFA_ENROLLMENT_REQUIRED: 403,
  FORBIDDEN: 403,
  /** The tenant's automation policy refuses this tool call (a disabled tool, a console line its patterns deny). */
  POLICY_DENIED: 403,
  /** The tenant's automation policy wants a tenant admin to approve this call first; details.approvalId names the request. */
  APPROVAL_REQUIRED: 403,
  JOIN_TOKEN_INVALID: 401,
  JOIN_TOKEN_USED: 401,
  JOIN_TOKEN_EXPIRED: 401,
  AGENT_REVOKED: 403,
  AGENT_KEY_UNKNOWN: 401,
  DATACENTER_MISMATCH: 403,
  // agents / BMCs
  AGENT_OFFLINE: 503,
  /** A client (CLI, agent) could not reach the relay at all; never sent by the relay itself. */
  RELAY_UNREACHABLE: 503,
  AGENT_TIMEOUT: 504,
  BMC_UNREACHABLE: 502,
  BMC_AUTH_FAILED: 502,
  BMC_PROTOCOL_ERROR: 502,
  BMC_TIMEOUT: 504,
  BMC_UNSUPPORTED: 501,
  BMC_BUSY: 409,
  /** A BMC's TLS certificate differs from the one pinned or trusted on first use. */
  BMC_CERT_MISMATCH: 502,
  /** The BMC accepted a power action but was not seen reaching the target state before the deadline. */
  POWER_UNCONFIRMED: 504,
  // discovery
  /** The agent's config names no discovery ranges: it scans nothing (docs/operations.md, Discovery). */
  DISCOVERY_NOT_CONFIGURED: 409,
  /** An adoption names a credential set the agent's config does not have (the reference travels, never the secret). */
  CREDENTIALS_UNKNOWN: 400,
  // virtual media
  QUOTA_EXCEEDED: 413,
  CHECKSUM_MISMATCH: 422,
  /** The BMC accepted the image but was never seen reading it (nor reports it connected): nothing is mounted. */
  MEDIA_NOT_FETCHED: 502,
  /** The CD slot holds an image someone else inserted; replacing it needs an explicit request. */
  MEDIA_IN_USE: 409,
  /** The image URL (or a redirect of it, or an address its host resolves to) is not allowed by the tenant's media URL policy. */
  MEDIA_URL_NOT_ALLOWED: 403,
  /** The agent could not fetch the image from its URL (HTTP error, no size announced, connection lost past the resumes). */
  MEDIA_URL_FETCH_FAILED: 502,
  /**
   * The request went to a gateway that does not hold the agent's connection (RFC 9110 §15.5.20, 421
   * Misdirected Request): an upload's bytes are taken only where its agent is; details.uploadUrl names that place.
   */
  WRONG_GATEWAY: 421,
  // protocol plane
  PROTOCOL_VERSION: 400,
  MALFORMED_MESSAGE: 400,
  FRAME_TOO_LARGE: 413,
  // config / internal
  CONFIG_INVALID: 500,
  INTERNAL: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * What a person can do about a BMC error when the agent could not say
 * anything more specific (clients show it as the hint line).
 */
export const DEFAULT_HINTS: Partial<Record<ErrorCode, string>> = {
  BMC_UNREACHABLE: 'check that the agent reaches the BMC address on the out-of-band network (and that the BMC is powered)',
  BMC_AUTH_FAILED: "check the BMC credentials in the agent's configuration; the agent backs off so the account is not locked",
  BMC_PROTOCOL_ERROR: 'the BMC answered something the agent could not use; the agent log has the BMC answer (details)',
  BMC_TIMEOUT: 'the BMC did not answer in time; it may be busy or rebooting: try again in a minute',
  BMC_UNSUPPORTED: 'this BMC (or its firmware) does not offer that operation',
  BMC_BUSY: 'the BMC is busy with another request or session: try again shortly',
  BMC_CERT_MISMATCH: "the BMC's TLS certificate changed: verify it out of band, then update the agent's trust for it",
  MEDIA_NOT_FETCHED: "the BMC never read the image: check that it reaches the agent's media server (media.listen) on the out-of-band network",
  POWER_UNCONFIRMED: 'the BMC accepted the action but never reported the target state in time: read the power state again, then retry if needed',
  MEDIA_IN_USE: 'mount with --replace (API: "replace": true) to eject the image someone else inserted',
  MEDIA_URL_NOT_ALLOWED: 'a tenant admin allows image hosts with `lightsout media url-policy set --allow HOST`; internal addresses must be allowed by address (IP or CIDR)',
  MEDIA_URL_FETCH_FAILED: 'check that the agent reaches the URL and that the server answers it with the image and its size (Content-Length)',
  DISCOVERY_NOT_CONFIGURED: "add a `discovery` section with the ranges to scan to the agent's config and restart it",
  CREDENTIALS_UNKNOWN: "name the id of an entry under `credentials` in that agent's config (the agent holds the passwords; they never travel)",
  STORE_UNAVAILABLE: "the relay's database is not answering (restarting?): nothing was changed; retry in a few seconds",
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code];
}

const BMC_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BMC_UNREACHABLE', 'BMC_AUTH_FAILED', 'BMC_PROTOCOL_ERROR', 'BMC_TIMEOUT', 'BMC_UNSUPPORTED', 'BMC_BUSY', 'BMC_CERT_MISMATCH']);

/**
 * The BMC side failed: not reachable, refused the login or spoke wrongly,
 * too slow, cannot do it, held by another session, or its certificate
 * changed. A console closes with the same code for all of them, and an SSH
 * console exits with the same status.
 */
export function isBmcFailure(code: ErrorCode): boolean {
  return BMC_FAILURES.has(code);
}

/**
 * A STEP_UP_REQUIRED that a new sign-in cannot satisfy: the relay says the
 * identity provider's tokens carry no sign-in time at all (`details.signInTime:
 * "unknown"`), so clients show the refusal instead of signing the person in
 * again only to be refused the same way.
 */
export function signingInAgainHelps(error: { code: string; details?: Record<string, unknown> | undefined }): boolean {
  return error.code === 'STEP_UP_REQUIRED' && error.details?.['signInTime'] !== 'unknown';
}

/** The JSON body of every error response and every failed control reply. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** One line telling a human what to do about it (shown by the CLI). */
  hint?: string;
  details?: Record<string, unknown>;
}

export class LightsoutError extends Error {
  override readonly name = 'LightsoutError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get httpStatus(): number {
    return httpStatusOf(this.code);
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.hint !== undefined) body.hint = this.hint;
    if (this.details !== undefined) body.details = this.details;
    return body;
  }

  static fromBody(body: unknown): LightsoutError {
    if (typeof body === 'object' && body !== null) {
      const { code, message, hint, details } = body as Partial<ErrorBody>;
      if (isErrorCode(code)) {
        return new LightsoutError(code, typeof message === 'string' ? message : code, {
          ...(typeof hint === 'string' ? { hint } : {}),
          ...(typeof details === 'object' && details !== null ? { details } : {}),
        });
      }
    }
    return new LightsoutError('INTERNAL', 'peer sent an error without a known code', { details: { body } });
  }
}
