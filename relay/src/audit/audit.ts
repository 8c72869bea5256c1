import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Store } from '../store/open.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEvent {
  /** e.g. login, agent.enroll, agent.revoke, join-token.create, power.on, boot.set */
  action: string;
  outcome: AuditOutcome;
  subject?: string | null;
  tenant?: string | null;
  /** What was acted on: `server:web-01`, `agent:<id>`, `user:admin`. */
  target?: string | null;
  sourceIp?: string | null;
  correlationId?: string | null;
  /** Non-secret context (error code, action parameters). Never tokens or passwords. */
  details?: Record<string, unknown>;
}

export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
  /** Same, taking source address and correlation id from the request. */
  fromRequest(request: FastifyRequest, event: Omit<AuditEvent, 'sourceIp' | 'correlationId'>): Promise<void>;
}

/**
 * Append-only security event log (table `audit`). First cut: one row per
 * event with an increasing sequence number; hash chaining comes later and
 * only adds columns. A failed append is logged, never swallowed silently, but
 * it does not fail the user's request.
 */
export function createAuditLog(store: Store, log: FastifyBaseLogger): AuditLog {
  async function append(event: AuditEvent): Promise<void> {
    try {
      await store
        .insertInto('audit')
        .values({
          time: Date.now(),
          subject: event.subject ?? null,
          tenant_id: event.tenant ?? null,
          action: event.action,
          target: event.target ?? null,
          outcome: event.outcome,
          source_ip: event.sourceIp ?? null,
          correlation_id: event.correlationId ?? null,
          details: event.details === undefined ? null : JSON.stringify(event.details),
        })
        .execute();
    } catch (error) {
      log.error({ err: error, action: event.action }, 'audit append failed');
    }
  }
  return {
    append,
    fromRequest(request, event) {
      return append({ ...event, sourceIp: request.ip, correlationId: request.id });
    },
  };
}
