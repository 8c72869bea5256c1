import type { ServerConnection } from '@lightsout/shared';
import type { GatewayLocation } from '../cluster/router.js';
import type { Store } from '../store/open.js';

const iso = (milliseconds: number | null) => (milliseconds === null ? null : new Date(milliseconds).toISOString());

export interface ConnectionSources {
  store: Store;
  isOnline(agentId: string): boolean;
  /** The replica holding the agent's control connection now, undefined when none does. */
  gatewayOf(agentId: string): Promise<GatewayLocation | undefined>;
}

/**
 * Which agent and which gateway carry a server. `provider`: the caller may
 * manage agents, and sees what only the agents list shows (the agent's name
 * and version, the replica's internal id); anyone else who may see the
 * server gets the agent's id and presence (already on every server view),
 * its last heartbeat and place, and the gateway's public URL and region.
 * Undefined when the store has no such agent.
 */
export async function serverConnection(sources: ConnectionSources, agentId: string, provider: boolean): Promise<ServerConnection | undefined> {
  const row = await sources.store.selectFrom('agents').select(['id', 'name', 'version', 'region', 'datacenter', 'revoked', 'last_seen_at']).where('id', '=', agentId).executeTakeFirst();
  if (row === undefined) return undefined;
  // A revoked agent is offline whatever its socket does (as in the agents list): it carries nothing.
  const online = row.revoked === 0 && sources.isOnline(agentId);
  const gateway = online ? await sources.gatewayOf(agentId) : undefined;
  return {
    agent: {
      id: row.id,
      ...(provider ? { name: row.name, version: row.version } : {}),
      state: online && gateway !== undefined ? 'online' : 'offline',
      lastSeenAt: iso(row.last_seen_at === null ? null : Number(row.last_seen_at)),
      region: row.region,
      datacenter: row.datacenter,
    },
    ...(gateway === undefined ? {} : { gateway: { ...(provider && gateway.replicaId !== undefined ? { replicaId: gateway.replicaId } : {}), url: gateway.url, region: gateway.region } }),
  };
}
