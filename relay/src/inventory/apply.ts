import type { BmcLinkStatus, InventoryAckMessage, PowerState, ServerRegistration } from '@lightsout/shared';
import type { Store } from '../store/open.js';

type Rejection = InventoryAckMessage['rejected'][number];

export interface AgentPlacement {
  id: string;
  region: string;
  datacenter: string;
  /** Tenants it may register servers into (its join token's, or a provider admin's later choice); null: none. */
  tenants: string[] | null;
}

/**
 * Apply an agent's full inventory: its servers become exactly the accepted
 * ones. Region and datacenter come from the agent's enrollment, never from
 * the message, so an agent can only place servers in its own datacenter.
 * Refused per server: an id another agent owns (CONFLICT), a duplicate id in
 * the message (CONFLICT), a tenant the agent's join token did not name
 * (FORBIDDEN), an unknown tenant (NOT_FOUND). A server is reported accepted
 * only once its row is written as this agent's: another agent registering
 * the same new id at the same moment (through another replica) may write
 * it first, and then this one is refused too (CONFLICT).
 */
export async function applyInventory(store: Store, agent: AgentPlacement, servers: ServerRegistration[]): Promise<{ accepted: string[]; rejected: Rejection[]; removed: Array<{ id: string; tenant: string }>; assigned: Array<{ serverId: string; tenant: string }> }> {
  return store.transaction().execute(async (transaction) => {
    let accepted: ServerRegistration[] = [];
    const rejected: Rejection[] = [];
    const ids = [...new Set(servers.map((server) => server.id))];
    // A provider admin's assignment (PUT /v1/servers/:id/tenant) wins over the tenant the agent reports.
    const assigned = new Map<string, string>();
    for (let offset = 0; offset < ids.length; offset += 500) {
      for (const row of await transaction.selectFrom('server_assignments').select(['server_id', 'tenant_id']).where('server_id', 'in', ids.slice(offset, offset + 500)).execute()) assigned.set(row.server_id, row.tenant_id);
    }
    const reported = new Map(servers.map((server) => [server.id, server.tenant]));
    if (assigned.size > 0) servers = servers.map((server) => (assigned.has(server.id) ? { ...server, tenant: assigned.get(server.id)! } : server));
    const tenants = [...new Set(servers.map((server) => server.tenant))];
    const owners = new Map<string, string>();
    /** What each server's row holds now: a re-registration that changes nothing writes nothing. */
    const stored = new Map<string, string>();
    for (let offset = 0; offset < ids.length; offset += 500) {
      const rows = await transaction.selectFrom('servers').select(['id', 'agent_id', 'name', 'tenant_id', 'region', 'datacenter', 'rack', 'labels', 'endpoints', 'capabilities']).where('id', 'in', ids.slice(offset, offset + 500)).execute();
      for (const row of rows) {
        owners.set(row.id, row.agent_id);
        stored.set(row.id, JSON.stringify([row.name, row.tenant_id, row.region, row.datacenter, row.rack, row.labels, row.endpoints, row.capabilities, row.agent_id]));
      }
    }
    const knownTenants = new Set<string>();
    if (tenants.length > 0) {
      for (const row of await transaction.selectFrom('tenants').select('id').where('id', 'in', tenants).execute()) knownTenants.add(row.id);
    }
    const seen = new Set<string>();
    for (const server of servers) {
      const owner = owners.get(server.id);
      if (seen.has(server.id)) {
        rejected.push({ serverId: server.id, error: { code: 'CONFLICT', message: `server id ${server.id} appears twice in the inventory` } });
      } else if (owner !== undefined && owner !== agent.id) {
        rejected.push({ serverId: server.id, error: { code: 'CONFLICT', message: `server id ${server.id} is registered by another agent`, hint: 'server ids are unique across the provider; rename it in the agent config' } });
      } else if (!assigned.has(server.id) && !(agent.tenants ?? []).includes(server.tenant)) {
        // A provider admin's assignment may place a server anywhere; the agent's own report may not.
        const allowed = agent.tenants === null || agent.tenants.length === 0 ? 'no tenant yet' : `${agent.tenants.join(', ')} only`;
        rejected.push({ serverId: server.id, error: { code: 'FORBIDDEN', message: `this agent may register servers into ${allowed}, not ${server.tenant}`, hint: `a provider admin names the agent's tenants: lightsout agents tenants ${agent.id} --tenant ${server.tenant}; or fix the tenant in the agent config` } });
      } else if (!knownTenants.has(server.tenant)) {
        rejected.push({ serverId: server.id, error: { code: 'NOT_FOUND', message: `tenant ${server.tenant} does not exist`, hint: 'a provider admin must create the tenant first' } });
      } else {
        accepted.push(server);
      }
      seen.add(server.id);
    }
    const now = Date.now();
    const lost = new Set<string>();
    const acceptedIds = accepted.map((server) => server.id);
    let gone = transaction.selectFrom('servers').select(['id', 'tenant_id']).where('agent_id', '=', agent.id);
    if (acceptedIds.length > 0) gone = gone.where('id', 'not in', acceptedIds);
    const removed = (await gone.execute()).map((row) => ({ id: row.id, tenant: row.tenant_id }));
    if (removed.length > 0) {
      await transaction.deleteFrom('servers').where('agent_id', '=', agent.id).where('id', 'in', removed.map((entry) => entry.id)).execute();
    }
    for (const server of accepted) {
      const values = {
        name: server.name,
        tenant_id: server.tenant,
        region: agent.region,
        datacenter: agent.datacenter,
        rack: server.rack,
        labels: JSON.stringify(server.labels ?? {}),
        endpoints: JSON.stringify(server.endpoints),
        capabilities: JSON.stringify(server.capabilities),
        agent_id: agent.id,
        updated_at: now,
      };
      // An agent re-sends its whole inventory on every reconnection (a failover, a relay restart): a row per
      // server each time held the agent's control queue for seconds on a loaded store, answers included.
      if (stored.get(server.id) === JSON.stringify([values.name, values.tenant_id, values.region, values.datacenter, values.rack, values.labels, values.endpoints, values.capabilities, values.agent_id])) continue;
      // Power state survives a re-registration (reconnect); it is the agent's to update.
      const written = await transaction
        .insertInto('servers')
        .values({ id: server.id, ...values, power: 'unknown', reachable: null, state_at: null })
        .onConflict((conflict) => conflict.column('id').doUpdateSet(values).where('servers.agent_id', '=', agent.id))
        .executeTakeFirst();
      // No row written: another agent's registration of this id committed after it was read above.
      if (written.numInsertedOrUpdatedRows === 0n) {
        lost.add(server.id);
        rejected.push({ serverId: server.id, error: { code: 'CONFLICT', message: `server id ${server.id} is registered by another agent`, hint: 'server ids are unique across the provider; rename it in the agent config' } });
      }
    }
    if (lost.size > 0) accepted = accepted.filter((server) => !lost.has(server.id));
    // The agent is told where its config is out of date, so it opens consoles for the right tenant only.
    const reassigned = accepted.filter((server) => reported.get(server.id) !== server.tenant).map((server) => ({ serverId: server.id, tenant: server.tenant }));
    return { accepted: accepted.map((server) => server.id), rejected, removed, assigned: reassigned };
  });
}

type ServerState = { serverId: string; power: PowerState; reachable: boolean; bmc?: BmcLinkStatus };

/** Ids per statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const IDS_PER_STATEMENT = 500;

/**
 * `state` messages, in arrival order, for servers this agent owns (others are
 * ignored): the last one per server wins. Servers reporting the same state
 * are written by one statement, so the full set an agent reports after
 * every reconnection (one per server, nearly all alike) costs a few
 * statements instead of one each. Returns the ids written and the ids this
 * agent does not own.
 */
export async function applyStates(store: Store, agentId: string, states: ServerState[]): Promise<{ updated: string[]; ignored: string[] }> {
  const latest = new Map<string, ServerState>();
  for (const state of states) latest.set(state.serverId, state);
  const now = Date.now();
  const groups = new Map<string, { values: { power: PowerState; reachable: number; state_at: number; bmc_status: string | null }; ids: string[] }>();
  for (const state of latest.values()) {
    const values = { power: state.power, reachable: state.reachable ? 1 : 0, state_at: now, bmc_status: state.bmc === undefined ? null : JSON.stringify(state.bmc) };
    const key = JSON.stringify([values.power, values.reachable, values.bmc_status]);
    const group = groups.get(key) ?? { values, ids: [] };
    group.ids.push(state.serverId);
    groups.set(key, group);
  }
  const updated: string[] = [];
  for (const { values, ids } of groups.values()) {
    for (let offset = 0; offset < ids.length; offset += IDS_PER_STATEMENT) {
      const rows = await store
        .updateTable('servers')
        .set(values)
        .where('id', 'in', ids.slice(offset, offset + IDS_PER_STATEMENT))
        .where('agent_id', '=', agentId)
        .returning('id')
        .execute();
      for (const row of rows) updated.push(row.id);
    }
  }
  const written = new Set(updated);
  return { updated, ignored: [...latest.keys()].filter((id) => !written.has(id)) };
}
