import type { AuditRecord } from '@lightsout/shared';

/**
 * Where a sink's records go. The forwarder (forwarder.ts) reads the chain in
 * order, hands a batch to send(), and moves the sink's stored cursor past it
 * once the batch counts as delivered.
 */
export interface SinkTransport {
  /** Resolves once the batch was written (syslog) or acknowledged (HTTPS); rejects when it could not be. */
  send(records: readonly AuditRecord[]): Promise<void>;
  /**
   * How long a batch written on a connection that stays up must wait before
   * it counts as delivered: plain syslog has no acknowledgement (RFC 6587,
   * RFC 5425), so a batch still in flight when the connection drops is sent
   * again. 0 when send() resolving is itself the receiver's acknowledgement.
   */
  readonly confirmAfterMs: number;
  /** Bumped when a connection that carried records is lost: what was sent under an older epoch and not yet confirmed is sent again. */
  readonly epoch: number;
  close(): Promise<void>;
}

/** A record as one line of JSON, its keys always in chain order (whatever object it came from), so that sinks see the same bytes every time. */
export function recordJson(record: AuditRecord): string {
  const { seq, time, subject, tenant, action, target, outcome, sourceIp, correlationId, details, prevHash, hash } = record;
  return JSON.stringify({ seq, time, subject, tenant, action, target, outcome, sourceIp, correlationId, details, prevHash, hash });
}
