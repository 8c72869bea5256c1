import type { DiscoveredBmc, DiscoveredBmcView } from '@lightsout/shared';
import type { Store } from '../store/open.js';
import type { DiscoveredBmcTable } from '../store/database.js';

/** The API's view of one stored finding: vendor and model as the Redfish service root names them. */
export function viewOf(row: DiscoveredBmcTable & { agent_name: string }): DiscoveredBmcView {
  const finding = JSON.parse(row.finding) as DiscoveredBmc;
  const view: DiscoveredBmcView = {
    id: row.id,
    agentId: row.agent_id,
    agentName: row.agent_name,
    address: row.address.startsWith('gone:') ? (row.previous_address ?? row.address) : row.address,
    protocols: finding.protocols,
    firstSeenAt: new Date(Number(row.first_seen_at)).toISOString(),
    lastSeenAt: new Date(Number(row.last_seen_at)).toISOString(),
  };
  if (row.previous_address !== null) view.previousAddress = row.previous_address;
  if (finding.redfish?.vendor !== undefined) view.vendor = finding.redfish.vendor;
  if (finding.redfish?.product !== undefined) view.model = finding.redfish.product;
  if (finding.redfish?.uuid !== undefined) view.uuid = finding.redfish.uuid;
  if (finding.ipmi?.guid !== undefined) view.guid = finding.ipmi.guid;
  if (finding.ipmi !== undefined) view.ipmi = finding.ipmi;
  if (finding.redfish !== undefined) view.redfish = finding.redfish;
  if (row.adopted_server_id !== null) view.adoptedServerId = row.adopted_server_id;
  return view;
}

export async function listDiscovered(store: Store, filter: { agentId?: string; adopted?: boolean }): Promise<DiscoveredBmcView[]> {
  let query = store
    .selectFrom('discovered_bmcs')
    .innerJoin('agents', 'agents.id', 'discovered_bmcs.agent_id')
    .selectAll('discovered_bmcs')
    .select('agents.name as agent_name');
  if (filter.agentId !== undefined) query = query.where('discovered_bmcs.agent_id', '=', filter.agentId);
  if (filter.adopted === true) query = query.where('discovered_bmcs.adopted_server_id', 'is not', null);
  if (filter.adopted === false) query = query.where('discovered_bmcs.adopted_server_id', 'is', null);
  const rows = await query.execute();
  return rows.map(viewOf).sort((left, right) => left.agentName.localeCompare(right.agentName) || numericAddress(left.address) - numericAddress(right.address));
}

export async function findDiscovered(store: Store, where: { id: string } | { agentId: string; address: string }): Promise<DiscoveredBmcView | undefined> {
  let query = store.selectFrom('discovered_bmcs').innerJoin('agents', 'agents.id', 'discovered_bmcs.agent_id').selectAll('discovered_bmcs').select('agents.name as agent_name');
  query = 'id' in where ? query.where('discovered_bmcs.id', '=', where.id) : query.where('discovered_bmcs.agent_id', '=', where.agentId).where('discovered_bmcs.address', '=', where.address);
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : viewOf(row);
}

/** 10.0.8.9 before 10.0.8.10: addresses in the order of the network, not of their text. */
function numericAddress(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + (Number(octet) || 0), 0);
}
