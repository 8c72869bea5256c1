import type { AgentView } from '@lightsout/shared';
import type { Store } from '../store/open.js';

const iso = (milliseconds: number | null) => (milliseconds === null ? null : new Date(milliseconds).toISOString());

export async function listAgentViews(store: Store, isOnline: (agentId: string) => boolean, onlyId?: string): Promise<AgentView[]> {
  let query = store
    .selectFrom('agents')
    .leftJoin('servers', 'servers.agent_id', 'agents.id')
    .select((builder) => ['agents.id', 'agents.name', 'agents.region', 'agents.datacenter', 'agents.version', 'agents.revoked', 'agents.connected_at', 'agents.last_seen_at', 'agents.tenants', builder.fn.count<number>('servers.id').as('server_count')])
    .groupBy(['agents.id', 'agents.name', 'agents.region', 'agents.datacenter', 'agents.version', 'agents.revoked', 'agents.connected_at', 'agents.last_seen_at', 'agents.tenants'])
    .orderBy('agents.region')
    .orderBy('agents.datacenter')
    .orderBy('agents.name');
  if (onlyId !== undefined) query = query.where('agents.id', '=', onlyId);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    region: row.region,
    datacenter: row.datacenter,
    status: row.revoked === 0 && isOnline(row.id) ? 'online' : 'offline',
    version: row.version,
    servers: Number(row.server_count),
    connectedAt: iso(row.connected_at),
    lastSeenAt: iso(row.last_seen_at),
    revoked: row.revoked !== 0,
    tenants: row.tenants === null ? [] : (JSON.parse(row.tenants) as string[]),
  }));
}
