import { describe, expect, it } from 'vitest';
import { AUDIT_GENESIS_HASH, type AuditRecord, auditCanonicalForm, verifyAuditChain } from './chain.js';

// The chain logic with a stand-in hash (FNV-1a, hex): the relay and CLI pass SHA-256; the linking is the same.
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function chain(count: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  let prevHash = AUDIT_GENESIS_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const unhashed = { seq, time: 1_800_000_000_000 + seq, subject: `user-${seq}`, tenant: 'demo', action: 'login', target: null, outcome: 'success', sourceIp: '127.0.0.1', correlationId: `req-${seq}`, details: seq % 2 === 0 ? { n: seq, text: 'ü' } : null, prevHash };
    const record = { ...unhashed, hash: fnv1a(auditCanonicalForm(unhashed)) };
    records.push(record);
    prevHash = record.hash;
  }
  return records;
}

describe('audit chain verification', () => {
  it('accepts an intact chain and reports the last hash', () => {
    const records = chain(5);
    expect(verifyAuditChain(records, fnv1a)).toEqual({ ok: true, records: 5, lastHash: records[4]!.hash, lastSeq: 5 });
    expect(verifyAuditChain([], fnv1a)).toEqual({ ok: true, records: 0, lastHash: AUDIT_GENESIS_HASH, lastSeq: null });
  });

  it('verifies page by page from the previous page\'s last hash', () => {
    const records = chain(6);
    expect(verifyAuditChain(records.slice(3), fnv1a, records[2]!.hash).ok).toBe(true);
    expect(verifyAuditChain(records.slice(3), fnv1a)).toMatchObject({ ok: false, seq: 4, problem: 'broken-link' });
  });

  it('names the first bad record: edited, removed, reordered, malformed', () => {
    const edited = chain(5);
    edited[2] = { ...edited[2]!, outcome: 'failure' };
    expect(verifyAuditChain(edited, fnv1a)).toMatchObject({ ok: false, seq: 3, problem: 'hash-mismatch' });
    const removed = chain(5).filter((record) => record.seq !== 2);
    expect(verifyAuditChain(removed, fnv1a)).toMatchObject({ ok: false, seq: 3, problem: 'broken-link' });
    const swapped = chain(5);
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    expect(verifyAuditChain(swapped, fnv1a)).toMatchObject({ ok: false, seq: 3, problem: 'broken-link' });
    expect(verifyAuditChain([chain(2)[1]!, chain(2)[1]!], fnv1a, chain(2)[0]!.hash)).toMatchObject({ ok: false, seq: 2, problem: 'sequence-gap' });
    expect(verifyAuditChain([...chain(2), { nonsense: true } as unknown as AuditRecord], fnv1a)).toMatchObject({ ok: false, problem: 'malformed' });
  });

  it('covers every field: changing any one of them breaks the hash', () => {
    const [record] = chain(1) as [AuditRecord];
    const changes: Array<Partial<AuditRecord>> = [{ seq: 9 }, { time: 1 }, { subject: 'x' }, { tenant: 'x' }, { action: 'x' }, { target: 'x' }, { outcome: 'x' }, { sourceIp: 'x' }, { correlationId: 'x' }, { details: { x: 1 } }];
    for (const change of changes) expect(verifyAuditChain([{ ...record, ...change }], fnv1a).ok, JSON.stringify(change)).toBe(false);
  });
});
