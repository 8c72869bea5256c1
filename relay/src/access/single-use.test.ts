import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../store/open.js';
import { storeDialects } from '../testing/dialects.js';
import { SWEEP_CLOCK_MARGIN_MS, SingleUseLedger } from './single-use.js';

const dialects = storeDialects('lightsout-single-use-');

describe.each(dialects)('single-use tokens on %s', (_name, open) => {
  let store: Store;
  let now = Date.UTC(2026, 10, 22);
  const clock = () => now;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store?.destroy();
  });

  it('spends a token once; the same jti in another scope is another token', async () => {
    const ledger = new SingleUseLedger(store, clock);
    expect(await ledger.spend('stream-connect', 'jti-once-0001', now + 65_000)).toBe(true);
    expect(await ledger.spend('stream-connect', 'jti-once-0001', now + 65_000)).toBe(false);
    expect(await ledger.spend('agent:a1', 'jti-once-0001', now + 65_000)).toBe(true);
    expect(await ledger.spend('agent:a2', 'jti-once-0001', now + 65_000)).toBe(true);
    expect(await ledger.spend('agent:a1', 'jti-once-0001', now + 65_000)).toBe(false);
  });

  it('refuses a replay in another ledger on the same store: a restarted relay, or a second relay process', async () => {
    const first = new SingleUseLedger(store, clock);
    expect(await first.spend('stream-connect', 'jti-restart-01', now + 65_000)).toBe(true);
    const other = await open();
    try {
      expect(await new SingleUseLedger(other, clock).spend('stream-connect', 'jti-restart-01', now + 65_000)).toBe(false);
    } finally {
      await other.destroy();
    }
  });

  it('lets one of many concurrent spends of one token win', async () => {
    const ledgers = [new SingleUseLedger(store, clock), new SingleUseLedger(store, clock), new SingleUseLedger(store, clock)];
    const results = await Promise.all(Array.from({ length: 12 }, (_, index) => ledgers[index % 3]!.spend('stream-connect', 'jti-race-0001', now + 65_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('takes back a refunded token, once', async () => {
    const ledger = new SingleUseLedger(store, clock);
    expect(await ledger.spend('stream-connect', 'jti-refund-01', now + 65_000)).toBe(true);
    await ledger.refund('stream-connect', 'jti-refund-01');
    expect(await ledger.spend('stream-connect', 'jti-refund-01', now + 65_000)).toBe(true);
    expect(await ledger.spend('stream-connect', 'jti-refund-01', now + 65_000)).toBe(false);
  });

  it('sweeps rows whose tokens have expired, past a margin for the replicas\' clocks, at most once a minute, and keeps the live ones', async () => {
    const rows = async (jti: string) => (await store.selectFrom('spent_tokens').select('jti').where('jti', '=', jti).execute()).length;
    const ledger = new SingleUseLedger(store, clock);
    const spentAt = now;
    await ledger.spend('stream-connect', 'jti-short-001', spentAt + 10_000);
    await ledger.spend('stream-connect', 'jti-long-0001', spentAt + 10_000 + SWEEP_CLOCK_MARGIN_MS + 120_000);
    now += 30_000;
    await ledger.spend('stream-connect', 'jti-other-001', now + 65_000); // within the minute: no sweep yet
    expect(await rows('jti-short-001')).toBe(1);
    // Expired by this replica's clock, but one whose clock is behind may still accept the token: the row stays.
    now += 31_000;
    await ledger.spend('stream-connect', 'jti-other-002', now + 65_000);
    expect(await rows('jti-short-001')).toBe(1);
    expect(await new SingleUseLedger(store, () => spentAt + 5_000).spend('stream-connect', 'jti-short-001', spentAt + 10_000)).toBe(false);
    now = spentAt + 10_000 + SWEEP_CLOCK_MARGIN_MS + 1;
    await ledger.spend('stream-connect', 'jti-other-003', now + 65_000);
    expect(await rows('jti-short-001')).toBe(0);
    expect(await rows('jti-long-0001')).toBe(1);
    expect(await ledger.spend('stream-connect', 'jti-long-0001', now + 120_000)).toBe(false);
  });
});
