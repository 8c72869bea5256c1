import { randomUUID } from 'node:crypto';
import { identityOf, type DiscoveredBmc, type DiscoveredMessage } from '@lightsout/shared';
import type { Store } from '../store/open.js';

export interface ScanApplied {
  added: number;
  updated: number;
  /** BMCs found at another address than before (matched by UUID or GUID). */
  moved: Array<{ id: string; from: string; to: string }>;
}

/**
 * Files one scan's findings for an agent, in one transaction. A BMC is the
 * same row as before when its identity (Redfish UUID, else IPMI GUID)
 * matches, whatever its address now: the row moves and remembers the old
 * address. Without an identity the address is all there is. Whatever held
 * an address before this scan and is now elsewhere (or gone from it) gives
 * the address up: two rows of one agent never share one.
 */
export async function applyScan(store: Store, agentId: string, report: Omit<DiscoveredMessage, 'v' | 'type' | 'more'>, now = Date.now()): Promise<ScanApplied> {
  const result: ScanApplied = { added: 0, updated: 0, moved: [] };
  await store.transaction().execute(async (transaction) => {
    const rows = await transaction.selectFrom('discovered_bmcs').selectAll().where('agent_id', '=', agentId).execute();
    const byIdentity = new Map(rows.filter((row) => row.identity !== null).map((row) => [row.identity!, row]));
    const byAddress = new Map(rows.map((row) => [row.address, row]));
    const claimed = new Set<string>();
    const plans: Array<{ bmc: DiscoveredBmc; identity: string | null; row: (typeof rows)[number] | undefined }> = [];
    for (const bmc of report.bmcs) {
      const identity = identityOf(bmc) ?? null;
      let row = identity === null ? undefined : byIdentity.get(identity);
      // The same address with no identity known on either side, or a row that had none yet: the same BMC.
      if (row === undefined) {
        const atAddress = byAddress.get(bmc.address);
        if (atAddress !== undefined && (atAddress.identity === null || atAddress.identity === identity)) row = atAddress;
      }
      if (row !== undefined && claimed.has(row.id)) row = undefined;
      if (row !== undefined) claimed.add(row.id);
      plans.push({ bmc, identity, row });
    }
    // Rows that are not this scan's BMCs but sit on an address one of them holds now: stale, removed first (unique index).
    const taken = new Set(report.bmcs.map((bmc) => bmc.address));
    const stale = rows.filter((row) => !claimed.has(row.id) && taken.has(row.address) && row.adopted_server_id === null).map((row) => row.id);
    const displaced = rows.filter((row) => !claimed.has(row.id) && taken.has(row.address) && row.adopted_server_id !== null);
    if (stale.length > 0) await transaction.deleteFrom('discovered_bmcs').where('id', 'in', stale).execute();
    // An adopted BMC's row whose address another BMC holds now keeps its history under a marker address.
    for (const row of displaced) await transaction.updateTable('discovered_bmcs').set({ address: `gone:${row.id}`, previous_address: row.address }).where('id', '=', row.id).execute();
    // Moves go through a marker address too, so two BMCs that swapped addresses do not collide mid-update.
    const movers = plans.filter((plan) => plan.row !== undefined && plan.row.address !== plan.bmc.address);
    for (const plan of movers) await transaction.updateTable('discovered_bmcs').set({ address: `moving:${plan.row!.id}` }).where('id', '=', plan.row!.id).execute();
    for (const plan of plans) {
      const finding = JSON.stringify(plan.bmc);
      if (plan.row === undefined) {
        await transaction
          .insertInto('discovered_bmcs')
          .values({ id: randomUUID(), agent_id: agentId, address: plan.bmc.address, previous_address: null, identity: plan.identity, finding, scan_id: report.scanId, first_seen_at: now, last_seen_at: now, adopted_server_id: null })
          .execute();
        result.added++;
        continue;
      }
      const moved = plan.row.address !== plan.bmc.address;
      if (moved) result.moved.push({ id: plan.row.id, from: plan.row.address, to: plan.bmc.address });
      await transaction
        .updateTable('discovered_bmcs')
        .set({ address: plan.bmc.address, ...(moved ? { previous_address: plan.row.address } : {}), identity: plan.identity, finding, scan_id: report.scanId, last_seen_at: now })
        .where('id', '=', plan.row.id)
        .execute();
      result.updated++;
    }
  });
  return result;
}
