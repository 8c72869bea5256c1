import type { FastifyInstance } from 'fastify';
import type { MediaDependencies, MediaServerInfo } from './dependencies.js';

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
    requestAgent: (agentId, op, params, timeoutMs) => app.agentRouter.request(agentId, op, params, timeoutMs),
    async verifyAgentToken(token) {
      return (await app.agents.authenticate(token)).id;
    },
    audit: (request, event) => app.audit.fromRequest(request, event),
  };
}
