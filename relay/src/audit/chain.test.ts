import { AUDIT_GENESIS_HASH, verifyAuditChain } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../store/open.js';
import { storeDialects } from '../testing/dialects.js';
import { createAuditLog } from './audit.js';
import { readAudit, sha256Hex } from './chain.js';

const dialects = storeDialects('lightsout-audit-');
const log = { error: (object: unknown) => { throw new Error(`audit append failed: ${JSON.stringify(object)}`); }, warn: () => undefined } as never;

describe.each(dialects)('audit hash chain on %s', (driver, open) => {
  let store: Store;
  beforeAll(async () => {
    store = await open();
    // Two writers on one database (two relays behind a load balancer): the chain must stay linear.
    const first = createAuditLog(store, log, { driver });
    const second = createAuditLog(store, log, { driver });
    await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        (index % 2 === 0 ? first : second).append({ action: index % 3 === 0 ? 'power.off' : 'login', outcome: 'success', subject: `user-${index}`, tenant: index % 2 === 0 ? 'alpha' : 'bravo', target: `server:s${index}`, details: { index, nested: { emoji: 'ü→', list: [1, 2] } } }),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await store?.destroy();
  });

  const all = () => readAudit(store, { limit: 1000 });

  it('chains every record to the one before, from the genesis hash, across concurrent writers', async () => {
    const records = await all();
    expect(records).toHaveLength(40);
    expect(records[0]!.prevHash).toBe(AUDIT_GENESIS_HASH);
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
    expect(verifyAuditChain(records, sha256Hex)).toMatchObject({ ok: true, records: 40, lastSeq: 40, lastHash: records[39]!.hash });
    // The export format (JSON lines) round-trips to the same verdict.
    const reparsed = records.map((record) => JSON.parse(JSON.stringify(record)) as typeof record);
    expect(verifyAuditChain(reparsed, sha256Hex).ok).toBe(true);
  });

  it('detects an edited record, a deleted record and a re-hashed forgery', async () => {
    const original = await all();
    await store.updateTable('audit').set({ outcome: 'failure' }).where('seq', '=', 7).execute();
    expect(verifyAuditChain(await all(), sha256Hex)).toMatchObject({ ok: false, seq: 7, problem: 'hash-mismatch' });
    await store.updateTable('audit').set({ outcome: original[6]!.outcome }).where('seq', '=', 7).execute();
    expect(verifyAuditChain(await all(), sha256Hex).ok).toBe(true);

    // An attacker with database access rewrites record 12 and recomputes its own hash: record 13 no longer links.
    const forged = { ...original[11]!, subject: 'someone-else' };
    const { hash: _discarded, ...unhashed } = forged;
    const { auditCanonicalForm } = await import('@lightsout/shared');
    await store.updateTable('audit').set({ subject: forged.subject, hash: sha256Hex(auditCanonicalForm(unhashed)) }).where('seq', '=', 12).execute();
    expect(verifyAuditChain(await all(), sha256Hex)).toMatchObject({ ok: false, seq: 13, problem: 'broken-link' });
    await store.updateTable('audit').set({ subject: original[11]!.subject, hash: original[11]!.hash }).where('seq', '=', 12).execute();

    await store.deleteFrom('audit').where('seq', '=', 20).execute();
    expect(verifyAuditChain(await all(), sha256Hex)).toMatchObject({ ok: false, seq: 21, problem: 'broken-link' });
  });

  it('reads one tenant\'s records only when asked to', async () => {
    const alpha = await readAudit(store, { limit: 1000, tenant: 'alpha' });
    expect(alpha.length).toBeGreaterThan(0);
    expect(alpha.every((record) => record.tenant === 'alpha')).toBe(true);
  });
});
