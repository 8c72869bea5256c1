/**
 * Whether an error says the database could not be reached, rather than that
 * a statement was wrong: the connection was refused or lost, or the server
 * is shutting down or starting up. Such a request did nothing (each write is
 * one statement or one transaction, which the server rolls back when the
 * connection goes), so it is answered STORE_UNAVAILABLE (503), never as an
 * internal fault.
 */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/**
 * PostgreSQL SQLSTATEs (Appendix A, "PostgreSQL Error Codes"): class 08
 * connection exceptions; 57P01 admin_shutdown, 57P02 crash_shutdown,
 * 57P03 cannot_connect_now (starting up); 53300 too_many_connections.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/** node-postgres's own words for a connection that went away or never came (pg/lib/client.js, pg-pool). */
const PG_CONNECTION_MESSAGES = /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed and is not queryable|Cannot use a pool after calling end/i;

export function isStoreUnavailable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (PG_CONNECTION_MESSAGES.test(cause.message)) return true;
    // An AggregateError (a refused connection to each of localhost's addresses) carries the errnos in `errors`.
    if (cause instanceof AggregateError && cause.errors.some((inner) => isStoreUnavailable(inner))) return true;
  }
  return false;
}
