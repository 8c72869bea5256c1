import type { BmcEndpoints, Capability, ControlOperation, OperationParams, OperationResult } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { grantSelectors, selectorMatches } from './access/scope.js';
import type { Principal } from './identity/verifier.js';
import { BatchedLookup } from './store/batched-lookup.js';

export interface RelayServerInfo {
  id: string;
  tenant: string;
  agentId: string;
  capabilities: Capability[];
  endpoints: BmcEndpoints;
}

/**
 * The relay's services as plain functions, for plugins that take their
 * dependencies explicitly (streams, media) instead of reaching into
 * decorators. Structurally matches their *Dependencies interfaces:
 *   await app.register(streamsPlugin, { dependencies: relayDependencies(app) });
 */
export function relayDependencies(app: FastifyInstance) {
  // Every stream token's use reads its server (still the tenant's?): a failover's resumes arrive together, read together.
  const servers = new BatchedLookup(async (ids: string[]) => {
    const rows = await app.store.selectFrom('servers').select(['id', 'tenant_id', 'agent_id', 'capabilities', 'endpoints']).where('id', 'in', ids).execute();
    return new Map(rows.map((row) => [row.id, row]));
  });
  return {
    /** Any server regardless of tenant: the caller must apply tenant scoping (another tenant's server is NOT_FOUND). */
    async findServer(serverId: string): Promise<RelayServerInfo | undefined> {
      const row = await servers.get(serverId);
      if (row === undefined) return undefined;
      return { id: row.id, tenant: row.tenant_id, agentId: row.agent_id, capabilities: JSON.parse(row.capabilities) as Capability[], endpoints: JSON.parse(row.endpoints) as BmcEndpoints };
    },
    requestAgent<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs: number): Promise<OperationResult<Op>> {
      return app.agentRouter.request(agentId, op, params, timeoutMs);
    },
    watchAgentPresence(listener: (agentId: string, online: boolean) => void): () => void {
      return app.agentRouter.watchPresence(listener);
    },
    agentOnline(agentId: string): boolean {
      return app.agentRouter.isOnline(agentId);
    },
    /** The hub is this process's: an agent online in it dials back here. */
    agentConnectedHere(agentId: string): boolean {
      return app.agents.isOnline(agentId);
    },
    /** The public URL of the replica holding the agent (this one, or the holder the cluster registry names). */
    gatewayUrlOf(agentId: string): Promise<string | undefined> {
      return app.agentRouter.gatewayUrlOf(agentId, app.config.publicUrl);
    },
    /** Grants narrow recordings like servers: a recording's server must match one of the caller's grants. */
    async grantsAllow(principal: Principal, serverId: string): Promise<boolean> {
      const selectors = await grantSelectors(app.store, principal);
      if (selectors === undefined) return true;
      const server = await app.store.selectFrom('servers').select(['id', 'tenant_id', 'rack', 'labels']).where('id', '=', serverId).executeTakeFirst();
      return server !== undefined && selectors.some((selector) => selectorMatches(selector, server));
    },
    /** Connect tokens are spent in the store: once across restarts and relay processes. */
    singleUse: app.singleUse,
    /** An agent's bearer JWT, verified exactly as the control endpoint does (spent once, in the store); its agent id. */
    async verifyAgentToken(token: string): Promise<string> {
      return (await app.agents.authenticate(token)).id;
    },
  };
}
