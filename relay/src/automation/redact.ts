/**
 * Redaction of what the MCP endpoint sends out (console text, event log
 * messages, error messages): an assistant's transcript is stored and shared
 * in places a BMC console never was. Pure functions; the tenant's own
 * patterns come on top of these defaults.
 */
export const REDACTED = '[REDACTED]';

/**
 * Built-in patterns. Each replaces the secret, keeping the words around it
 * so the text still reads (`password: [REDACTED]`).
 */
const DEFAULT_PATTERNS: ReadonlyArray<{ name: string; pattern: RegExp; keep?: number }> = [
  // PEM private keys (RFC 7468 §2 labels ending in PRIVATE KEY), whole block.
  { name: 'private-key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g },
  // `password=…`, `passwd: …`, `secret …`, `token=…`, `api_key: …` (group 1 kept).
  { name: 'assignment', pattern: /\b((?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key)\s*(?:[:=]|\s+is\s+)\s*)("[^"\r\n]*"|'[^'\r\n]*'|[^\s"',;]+)/gi, keep: 1 },
  // HTTP bearer credentials.
  { name: 'bearer', pattern: /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, keep: 1 },
  // JWTs (three base64url parts, the first a JSON header).
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g },
  // Our own API tokens, and the common cloud key shapes.
  { name: 'api-token', pattern: /\blso_[A-Za-z0-9_-]{16,}/g },
  { name: 'aws-key', pattern: /\bAKIA[0-9A-Z]{16}\b/g },
];

export type Redactor = (text: string) => string;

/** Compile a tenant's patterns; throws SyntaxError naming the first invalid one. */
export function compilePatterns(patterns: readonly string[]): RegExp[] {
  return patterns.map((source) => {
    try {
      return new RegExp(source, 'g');
    } catch (error) {
      throw new SyntaxError(`invalid pattern ${JSON.stringify(source)}: ${(error as Error).message}`, { cause: error });
    }
  });
}

export function createRedactor(tenantPatterns: readonly RegExp[] = []): Redactor {
  return (text) => {
    let out = text;
    for (const { pattern, keep } of DEFAULT_PATTERNS) {
      out = out.replace(pattern, (...match: string[]) => (keep === undefined ? REDACTED : `${match[keep] ?? ''}${REDACTED}`));
    }
    for (const pattern of tenantPatterns) out = out.replace(pattern, REDACTED);
    return out;
  };
}

/** Deeper than this, a value is replaced by TOO_DEEP: nothing a caller sends is walked without bound. */
export const MAX_REDACT_DEPTH = 32;
export const TOO_DEEP = '[TOO DEEP]';

/**
 * Every string inside a JSON value, redacted (object keys are left alone:
 * they are schema, not data). Arrays and objects below MAX_REDACT_DEPTH
 * become TOO_DEEP, so hostile nesting cannot exhaust the stack.
 */
export function redactValue<T>(value: T, redact: Redactor, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_REDACT_DEPTH) return TOO_DEEP as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item, redact, depth + 1)) as T;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, redact, depth + 1)])) as T;
}

/** What an audit record keeps of a caller's arguments at most (JSON characters). */
export const AUDIT_ARGUMENTS_MAX_CHARS = 4096;

/**
 * A caller's arguments as an audit record keeps them: redacted, bounded in
 * depth, and past `maxChars` of JSON a marked prefix instead (the audit log
 * is hash-chained and forwarded to SIEMs: a caller must not be able to fill it).
 */
export function auditedArguments(args: unknown, redact: Redactor, maxChars = AUDIT_ARGUMENTS_MAX_CHARS): unknown {
  const redacted = redactValue(args, redact);
  const text = JSON.stringify(redacted) ?? 'null';
  if (text.length <= maxChars) return redacted;
  return { truncated: true, chars: text.length, prefix: text.slice(0, maxChars) };
}
