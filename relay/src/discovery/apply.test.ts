import type { DiscoveredBmc } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { storeDialects } from '../testing/dialects.js';
import { applyScan } from './apply.js';
import { listDiscovered } from './views.js';

/**
 * Scan reports filed in the store on both dialects (migration 0019): a BMC is
 * one row across scans, follows its UUID or GUID to a new address, and an
 * address another BMC takes over is not held twice.
 */
const dialects = storeDialects('lightsout-discovered-');

const bmc = (address: string, uuid?: string, guid?: string): DiscoveredBmc => ({
  address,
  protocols: uuid === undefined ? ['ipmi'] : ['ipmi', 'redfish'],
  ipmi: { port: 623, asf: true, ipmi15: true, ipmi20: true, authTypes: ['md5'], ...(guid === undefined ? {} : { guid }) },
  ...(uuid === undefined ? {} : { redfish: { port: 443, uuid, vendor: 'Acme', product: 'R1', redfishVersion: '1.11.0', fingerprint256: 'ab'.repeat(32) } }),
});
const report = (scanId: string, bmcs: DiscoveredBmc[]) => ({ scanId, ranges: ['10.0.8.0/24'], startedAt: 'a', finishedAt: 'b', addresses: 254, probes: 800, bmcs });
const uuid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

describe.each(dialects)('discovered BMCs in the store (%s)', (_name, open) => {
  it('keeps one row per BMC across scans and follows a UUID or GUID to its new address', async () => {
    const store = await open();
    try {
      await store.insertInto('agents').values({ id: 'agent-a', name: 'fra1-a', region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1 }).execute();
      expect(await applyScan(store, 'agent-a', report('s1', [bmc('10.0.8.10', uuid(1)), bmc('10.0.8.11', undefined, uuid(2)), bmc('10.0.8.12'), bmc('10.0.8.9', uuid(4))]), 1000)).toMatchObject({ added: 4, updated: 0 });
      // Second scan: 1 moved to .20, 2 (GUID only) swapped places with 4, the anonymous .12 is still there.
      const second = await applyScan(store, 'agent-a', report('s2', [bmc('10.0.8.20', uuid(1)), bmc('10.0.8.9', undefined, uuid(2)), bmc('10.0.8.11', uuid(4)), bmc('10.0.8.12')]), 2000);
      expect(second).toMatchObject({ added: 0, updated: 4 });
      expect(second.moved.map((move) => `${move.from}>${move.to}`).sort()).toEqual(['10.0.8.10>10.0.8.20', '10.0.8.11>10.0.8.9', '10.0.8.9>10.0.8.11']);
      const views = await listDiscovered(store, {});
      expect(views.map((view) => [view.address, view.uuid ?? view.guid ?? '-', view.previousAddress ?? '-'])).toEqual([
        ['10.0.8.9', uuid(2), '10.0.8.11'],
        ['10.0.8.11', uuid(4), '10.0.8.9'],
        ['10.0.8.12', '-', '-'],
        ['10.0.8.20', uuid(1), '10.0.8.10'],
      ]);
      expect(views[0]).toMatchObject({ agentName: 'fra1-a', firstSeenAt: new Date(1000).toISOString(), lastSeenAt: new Date(2000).toISOString() });
      expect(views[3]).toMatchObject({ vendor: 'Acme', model: 'R1', protocols: ['ipmi', 'redfish'] });
      // A different BMC at .12 now (it has a UUID, the old row had none: the same row learns it), and one at .20's old place.
      await applyScan(store, 'agent-a', report('s3', [bmc('10.0.8.12', uuid(7)), bmc('10.0.8.20', uuid(8))]), 3000);
      const third = await listDiscovered(store, {});
      expect(third.find((view) => view.address === '10.0.8.20')?.uuid).toBe(uuid(8));
      expect(third.filter((view) => view.address === '10.0.8.20')).toHaveLength(1);
      expect(third.find((view) => view.address === '10.0.8.12')?.uuid).toBe(uuid(7));
    } finally {
      await store.destroy();
    }
  });
});
