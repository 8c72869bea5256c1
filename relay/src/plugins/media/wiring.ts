import type { FastifyInstance } from 'fastify';
import { bearerToken } from '../identity.js';
import type { MediaDependencies, MediaServerInfo } from './dependencies.js';

/** The media plugin's dependencies from the relay's identity, store and agents plugins (app.ts). */
export function mediaDependenciesOf(app: FastifyInstance): MediaDependencies {
  return {
    async authenticate(request) {
      const principal = await app.identity.principalFromToken(bearerToken(request.headers.authorization));
      return { subject: principal.subject, username: principal.username, tenant: principal.tenant, role: principal.role };
    },
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
    requestAgent: (agentId, op, params, timeoutMs) => app.agents.request(agentId, op, params, timeoutMs),
    async verifyAgentToken(token) {
      return (await app.agents.authenticate(token)).id;
    },
    audit: (request, event) => app.audit.fromRequest(request, event),
  };
}
