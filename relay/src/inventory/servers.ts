import { LightsoutError, type BmcLinkStatus, type ServerView } from '@lightsout/shared';
import { visibleServers } from '../access/scope.js';
import type { Principal } from '../identity/verifier.js';
import type { Store } from '../store/open.js';
import type { Selectable } from 'kysely';
import type { ServerTable } from '../store/database.js';
import type { ServerActivity } from './activity.js';
import { liveStatusOf } from './live-status.js';

type ServerRow = Selectable<Omit<ServerTable, 'updated_at' | 'reachable' | 'media_job' | 'media_job_owner' | 'media_job_until'>>;

const COLUMNS = ['id', 'name', 'tenant_id', 'region', 'datacenter', 'rack', 'labels', 'endpoints', 'capabilities', 'agent_id', 'power', 'state_at', 'bmc_status', 'pending_power', 'last_power', 'media'] as const;

export function toServerView(row: ServerRow, isOnline: (agentId: string) => boolean, activity?: ServerActivity): ServerView {
  return {
    ...(activity ? activity.of(row.id) : {}),
    ...liveStatusOf(row),
    id: row.id,
    name: row.name,
    tenant: row.tenant_id,
    region: row.region,
    datacenter: row.datacenter,
    rack: row.rack,
    labels: JSON.parse(row.labels) as ServerView['labels'],
    endpoints: JSON.parse(row.endpoints) as ServerView['endpoints'],
    capabilities: JSON.parse(row.capabilities) as ServerView['capabilities'],
    agentId: row.agent_id,
    agent: isOnline(row.agent_id) ? 'online' : 'offline',
    power: row.power === 'on' || row.power === 'off' ? row.power : 'unknown',
    stateAt: row.state_at === null ? null : new Date(row.state_at).toISOString(),
    bmc: row.bmc_status === null ? null : (JSON.parse(row.bmc_status) as BmcLinkStatus),
  };
}

/** Who may see which servers: provider admins every tenant's, everyone else only their own tenant's. */
function seesAllTenants(principal: Principal): boolean {
  return principal.role === 'provider-admin';
}

export async function listServers(store: Store, principal: Principal, onlyIds?: readonly string[]): Promise<ServerRow[]> {
  if (onlyIds !== undefined && onlyIds.length === 0) return [];
  let query = store.selectFrom('servers').select(COLUMNS).orderBy('tenant_id').orderBy('region').orderBy('datacenter').orderBy('rack').orderBy('id');
  if (!seesAllTenants(principal)) query = query.where('tenant_id', '=', principal.tenant);
  if (onlyIds !== undefined) query = query.where('id', 'in', onlyIds);
  // Grants narrow a user to a server group inside the tenant (access/scope.ts).
  return visibleServers(store, principal, await query.execute());
}

/** Whether the principal could see a server of this tenant (for removal notices). */
export function canSeeTenant(principal: Principal, tenant: string): boolean {
  return seesAllTenants(principal) || principal.tenant === tenant;
}

/**
 * One server the principal may see. Another tenant's server is NOT_FOUND,
 * exactly like a server that does not exist: the answer must not reveal
 * that the id is taken.
 */
export async function findServer(store: Store, principal: Principal, id: string): Promise<ServerRow> {
  let query = store.selectFrom('servers').select(COLUMNS).where('id', '=', id);
  if (!seesAllTenants(principal)) query = query.where('tenant_id', '=', principal.tenant);
  const row = await query.executeTakeFirst();
  if (row === undefined) throw new LightsoutError('NOT_FOUND', `no server ${id}`);
  return row;
}
