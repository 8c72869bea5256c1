/**
 * The audit log's hash chain, shared by the relay (which writes it) and the
 * CLI (`lightsout audit verify`, which checks an export or the live API).
 * Pure: the caller passes SHA-256 (node:crypto in both), so this file needs
 * no platform API.
 *
 * Each record carries `prevHash` = the previous record's `hash`, and
 * `hash` = SHA-256 over the record's canonical form, which includes
 * prevHash. Editing, inserting, deleting or reordering any record therefore
 * changes a hash that a later record (or the verifier) pins. Truncating the
 * tail is only visible against a hash kept elsewhere (a SIEM that ingested
 * the export keeps the last one).
 */
export interface AuditRecord {
  seq: number;
  /** Epoch milliseconds. */
  time: number;
  subject: string | null;
  tenant: string | null;
  action: string;
  target: string | null;
  outcome: string;
  sourceIp: string | null;
  correlationId: string | null;
  details: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

/** prevHash of the first record of a chain. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

const DOMAIN = 'lightsout-audit-v1';

/**
 * The exact bytes hashed: a domain tag and a JSON array in a fixed field
 * order (arrays have no key-order ambiguity). `details` is serialised with
 * JSON.stringify, which round-trips stably through an export.
 */
export function auditCanonicalForm(record: Omit<AuditRecord, 'hash'>): string {
  return `${DOMAIN}\n${JSON.stringify([
    record.seq,
    record.time,
    record.subject,
    record.tenant,
    record.action,
    record.target,
    record.outcome,
    record.sourceIp,
    record.correlationId,
    record.details === null ? null : JSON.stringify(record.details),
    record.prevHash,
  ])}`;
}

export type Sha256Hex = (text: string) => string;

export type AuditChainVerdict =
  | { ok: true; records: number; lastHash: string; lastSeq: number | null }
  | { ok: false; records: number; seq: number; problem: 'hash-mismatch' | 'broken-link' | 'sequence-gap' | 'malformed'; message: string };

/**
 * Walk records in sequence order. `startHash` is the prevHash the first
 * record must carry: the genesis hash for a whole log, or the last hash of
 * the previous page when verifying page by page.
 */
export function verifyAuditChain(records: Iterable<AuditRecord>, sha256: Sha256Hex, startHash: string = AUDIT_GENESIS_HASH): AuditChainVerdict {
  let previousHash = startHash;
  let previousSeq: number | null = null;
  let count = 0;
  for (const record of records) {
    count += 1;
    if (typeof record !== 'object' || record === null || typeof record.hash !== 'string' || typeof record.prevHash !== 'string' || !Number.isSafeInteger(record.seq)) {
      return { ok: false, records: count, seq: previousSeq ?? 0, problem: 'malformed', message: `record ${count} is not an audit record` };
    }
    if (previousSeq !== null && record.seq <= previousSeq) {
      return { ok: false, records: count, seq: record.seq, problem: 'sequence-gap', message: `record ${record.seq} follows ${previousSeq}: out of order or repeated` };
    }
    if (record.prevHash !== previousHash) {
      return { ok: false, records: count, seq: record.seq, problem: 'broken-link', message: `record ${record.seq} does not follow the previous record (a record before it was removed, inserted or changed)` };
    }
    const { hash, ...rest } = record;
    if (sha256(auditCanonicalForm(rest)) !== hash) {
      return { ok: false, records: count, seq: record.seq, problem: 'hash-mismatch', message: `record ${record.seq} was changed after it was written` };
    }
    previousHash = hash;
    previousSeq = record.seq;
  }
  return { ok: true, records: count, lastHash: previousHash, lastSeq: previousSeq };
}
