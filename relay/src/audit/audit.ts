import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Store } from '../store/open.js';
import { appendChained } from './chain.js';

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
  /** Called after each record this process appends (the SIEM forwarders send it at once); returns the unsubscribe. */
  onAppended(listener: () => void): () => void;
}

/**
 * Append-only security event log (table `audit`), hash-chained (chain.ts):
 * each row carries the SHA-256 of the previous row's canonical form, so an
 * edit, insertion or deletion is detectable (`lightsout audit verify`).
 * Appends are serialised in this process (a queue) and across relays on
 * PostgreSQL (an advisory lock inside the transaction). A failed append is
 * logged, never swallowed silently, but it does not fail the user's request.
 */
export function createAuditLog(store: Store, log: FastifyBaseLogger, options: { driver?: 'sqlite' | 'postgres' } = {}): AuditLog {
  let queue: Promise<void> = Promise.resolve();
  const listeners = new Set<() => void>();
  function append(event: AuditEvent): Promise<void> {
    const appended = queue.then(async () => {
      try {
        await appendChained(store, options.driver ?? 'sqlite', {
          time: Date.now(),
          subject: event.subject ?? null,
          tenant: event.tenant ?? null,
          action: event.action,
          target: event.target ?? null,
          outcome: event.outcome,
          sourceIp: event.sourceIp ?? null,
          correlationId: event.correlationId ?? null,
          details: event.details ?? null,
        });
        for (const listener of listeners) listener();
      } catch (error) {
        log.error({ err: error, action: event.action }, 'audit append failed');
      }
    });
    queue = appended;
    return appended;
  }
  return {
    append,
    fromRequest(request, event) {
      return append({ ...event, sourceIp: request.ip, correlationId: request.id });
    },
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
