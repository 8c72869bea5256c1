import { LightsoutError, type MediaUrlPolicy } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { AgentUploads } from './agent-uploads.js';
import type { MediaDependencies, MediaServerInfo } from './dependencies.js';
import { serverVisible } from '../../access/scope.js';

/** The media plugin's dependencies from the relay's store, agents and audit plugins (app.ts); the access hook authenticates. */
export function mediaDependenciesOf(app: FastifyInstance): MediaDependencies {
  return {
    async findServer(serverId) {
      const row = await app.store
        .selectFrom('servers')
        .select(['id', 'tenant_id', 'agent_id', 'capabilities', 'endpoints'])
        .where('id', '=', serverId)
        .executeTakeFirst();
      if (!row) return undefined;
      const server: MediaServerInfo = {
        id: row.id,
        tenant: row.tenant_id,
        agentId: row.agent_id,
        capabilities: JSON.parse(row.capabilities) as string[],
        endpoints: JSON.parse(row.endpoints) as MediaServerInfo['endpoints'],
      };
      return server;
    },
    serverVisible: (who, serverId) => serverVisible(app.store, who, serverId),
    requestAgent: (agentId, op, params, timeoutMs) => app.agentRouter.request(agentId, op, params, timeoutMs),
    uploads: new AgentUploads(app.store, app.config.store.driver),
    agentConnectedHere: (agentId) => app.agents.isOnline(agentId),
    gatewayUrlOf: (agentId) => app.agentRouter.gatewayUrlOf(agentId, app.config.publicUrl),
    async verifyAgentToken(token) {
      return (await app.agents.authenticate(token)).id;
    },
    urlPolicies: {
      async get(tenant) {
        const row = await app.store.selectFrom('media_url_policies').selectAll().where('tenant_id', '=', tenant).executeTakeFirst();
        if (!row) return { tenant, policy: { allow: [] }, updatedAt: null, updatedBy: null };
        return { tenant, policy: JSON.parse(row.policy) as MediaUrlPolicy, updatedAt: new Date(Number(row.updated_at)).toISOString(), updatedBy: row.updated_by };
      },
      async set(tenant, policy, by) {
        const known = await app.store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst();
        if (known === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${tenant}`);
        const now = Date.now();
        const values = { policy: JSON.stringify(policy), updated_at: now, updated_by: by };
        await app.store.insertInto('media_url_policies').values({ tenant_id: tenant, ...values }).onConflict((conflict) => conflict.column('tenant_id').doUpdateSet(values)).execute();
        return { tenant, policy, updatedAt: new Date(now).toISOString(), updatedBy: by };
      },
    },
    audit: (request, event) => app.audit.fromRequest(request, event),
  };
}
