import { createHash } from 'node:crypto';
import { AUDIT_GENESIS_HASH, type AuditRecord, auditCanonicalForm } from '@lightsout/shared';
import { sql } from 'kysely';
import type { AuditTable } from '../store/database.js';
import type { Store } from '../store/open.js';

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Any constant; every relay on one PostgreSQL database takes the same lock to append. */
const AUDIT_LOCK_KEY = 7_470_001;

type Row = Omit<AuditTable, 'seq'> & { seq: number };

export function recordOf(row: Row): AuditRecord {
  return {
    seq: Number(row.seq),
    time: Number(row.time),
    subject: row.subject,
    tenant: row.tenant_id,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    sourceIp: row.source_ip,
    correlationId: row.correlation_id,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
    prevHash: row.prev_hash ?? AUDIT_GENESIS_HASH,
    hash: row.hash ?? '',
  };
}

/**
 * Insert one record at the end of the chain: read the last record's hash and
 * seq, compute this one's, insert with an explicit seq — all in one
 * transaction, under a lock on PostgreSQL (SQLite serialises writers itself).
 */
export async function appendChained(store: Store, driver: 'sqlite' | 'postgres', event: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>): Promise<AuditRecord> {
  return store.transaction().execute(async (transaction) => {
    if (driver === 'postgres') await sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`.execute(transaction);
    const last = await transaction.selectFrom('audit').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const seq = last === undefined ? 1 : Number(last.seq) + 1;
    // Rows from before the chain existed (migration 0002) have no hash: the chain starts after them.
    const prevHash = last?.hash ?? AUDIT_GENESIS_HASH;
    const details = event.details === null ? null : (JSON.parse(JSON.stringify(event.details)) as Record<string, unknown>);
    const unhashed = { ...event, details, seq, prevHash };
    const record: AuditRecord = { ...unhashed, hash: sha256Hex(auditCanonicalForm(unhashed)) };
    await transaction
      .insertInto('audit')
      .values({
        seq,
        time: record.time,
        subject: record.subject,
        tenant_id: record.tenant,
        action: record.action,
        target: record.target,
        outcome: record.outcome,
        source_ip: record.sourceIp,
        correlation_id: record.correlationId,
        details: details === null ? null : JSON.stringify(details),
        prev_hash: prevHash,
        hash: record.hash,
      })
      .execute();
    return record;
  });
}

const COLUMNS = ['seq', 'time', 'subject', 'tenant_id', 'action', 'target', 'outcome', 'source_ip', 'correlation_id', 'details', 'prev_hash', 'hash'] as const;

/** A page of records in chain order, optionally only one tenant's. */
export async function readAudit(store: Store, options: { after?: number; limit: number; tenant?: string }): Promise<AuditRecord[]> {
  let query = store.selectFrom('audit').select(COLUMNS).where('hash', 'is not', null).orderBy('seq').limit(options.limit);
  if (options.after !== undefined) query = query.where('seq', '>', options.after);
  if (options.tenant !== undefined) query = query.where('tenant_id', '=', options.tenant);
  return (await query.execute()).map((row) => recordOf(row as Row));
}
