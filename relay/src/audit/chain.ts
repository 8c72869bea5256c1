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

export interface AuditFilter {
  after?: number;
  /** Records before this seq, newest first (`order: 'desc'`). */
  before?: number;
  order?: 'asc' | 'desc';
  limit: number;
  tenant?: string;
  /** Subjects that acted (a username resolves to these). */
  subjects?: readonly string[];
  /** The exact target (`server:web-1`). */
  target?: string;
  /** An action or its family: `grant` matches `grant` and `grant.*`. */
  action?: string;
  /** Epoch milliseconds: since inclusive, until exclusive. */
  since?: number;
  until?: number;
}

/** A page of records, in chain order unless `order` is 'desc', narrowed by the filter. */
export async function readAudit(store: Store, options: AuditFilter): Promise<AuditRecord[]> {
  const descending = options.order === 'desc';
  let query = store.selectFrom('audit').select(COLUMNS).where('hash', 'is not', null).orderBy('seq', descending ? 'desc' : 'asc').limit(options.limit);
  if (options.after !== undefined) query = query.where('seq', '>', options.after);
  if (options.before !== undefined) query = query.where('seq', '<', options.before);
  if (options.tenant !== undefined) query = query.where('tenant_id', '=', options.tenant);
  if (options.subjects !== undefined) {
    if (options.subjects.length === 0) return [];
    query = query.where('subject', 'in', [...options.subjects]);
  }
  if (options.target !== undefined) query = query.where('target', '=', options.target);
  if (options.action !== undefined) {
    const family = options.action;
    // `family.` up to (not including) `family/`: '/' follows '.' in every collation, so this is the `family.*` prefix without LIKE's wildcards.
    query = query.where((where) => where.or([where('action', '=', family), where.and([where('action', '>=', `${family}.`), where('action', '<', `${family}/`)])]));
  }
  if (options.since !== undefined) query = query.where('time', '>=', options.since);
  if (options.until !== undefined) query = query.where('time', '<', options.until);
  return (await query.execute()).map((row) => recordOf(row as Row));
}

/**
 * Names for the subjects of some records, so a reader sees people rather
 * than ids: a user's username, `token:NAME` for an API token (`svc:ID`),
 * `agent:NAME` for an agent. Subjects the relay does not know are left out.
 */
export async function actorNames(store: Store, subjects: Iterable<string | null>): Promise<Map<string, string>> {
  const wanted = [...new Set([...subjects].filter((subject): subject is string => subject !== null))];
  const names = new Map<string, string>();
  if (wanted.length === 0) return names;
  const tokenIds = wanted.filter((subject) => subject.startsWith('svc:')).map((subject) => subject.slice(4));
  const plain = wanted.filter((subject) => !subject.startsWith('svc:'));
  if (plain.length > 0) {
    for (const row of await store.selectFrom('users').select(['id', 'username']).where('id', 'in', plain).execute()) names.set(row.id, row.username);
    for (const row of await store.selectFrom('agents').select(['id', 'name']).where('id', 'in', plain).execute()) names.set(row.id, `agent:${row.name}`);
  }
  if (tokenIds.length > 0) {
    for (const row of await store.selectFrom('api_tokens').select(['id', 'name']).where('id', 'in', tokenIds).execute()) names.set(`svc:${row.id}`, `token:${row.name}`);
  }
  return names;
}

/** Names for targets that carry an id (`token:ID`, `agent:ID`): `token:NAME`, `agent:NAME`. Other targets already name what they mean. */
export async function targetNames(store: Store, targets: Iterable<string | null>): Promise<Map<string, string>> {
  const wanted = [...new Set([...targets].filter((target): target is string => target !== null))];
  const ids = (prefix: string) => wanted.filter((target) => target.startsWith(prefix)).map((target) => target.slice(prefix.length));
  const names = new Map<string, string>();
  const tokenIds = ids('token:');
  const agentIds = ids('agent:');
  if (tokenIds.length > 0) for (const row of await store.selectFrom('api_tokens').select(['id', 'name']).where('id', 'in', tokenIds).execute()) names.set(`token:${row.id}`, `token:${row.name}`);
  if (agentIds.length > 0) for (const row of await store.selectFrom('agents').select(['id', 'name']).where('id', 'in', agentIds).execute()) names.set(`agent:${row.id}`, `agent:${row.name}`);
  return names;
}
