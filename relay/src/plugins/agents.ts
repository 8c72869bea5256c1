import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AgentEnroll, AgentEnrolled, AgentList, AgentTenants, AgentView, ErrorBodySchema, JoinTokenCreate, JoinTokenCreated, JoinTokenList, LightsoutError } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { importJWK } from 'jose';
import Type from 'typebox';
import type { AuthenticatedAgent } from '../agents/agent-auth.js';
import { EnrollmentGuard, type EnrollFailureRow } from '../agents/enroll-guard.js';
import { AgentHub } from '../agents/hub.js';
import { consumeJoinToken, createJoinToken, hashJoinToken, listJoinTokens, requireTenants, revokeJoinToken } from '../agents/join-tokens.js';
import { listAgentViews } from '../agents/views.js';
import { AgentRouter } from '../cluster/router.js';
import { shareServerEvents } from '../cluster/server-events.js';
import { shareServerSessions } from '../cluster/server-sessions.js';
import { ServerActivity } from '../inventory/activity.js';
import { ServerEvents } from '../inventory/events.js';
import { ServerLiveStatus } from '../inventory/live-status.js';
import { bearerToken } from './identity.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Server changed / removed notifications (the /v1/events feed listens). */
    serverEvents: ServerEvents;
    /** Live console legs per server (the tree's badge), at every replica; the streams plugin reports into it. */
    serverActivity: ServerActivity;
    /** Pending and last power action and mounted media per server, kept in the store (power confirmations and the media plugin write them). */
    serverLiveStatus: ServerLiveStatus;
    /** This replica's live agent connections (the control endpoint attaches here). */
    agents: AgentHub;
    /** Agents wherever they are connected in the deployment: `app.agentRouter.request(agentId, op, params, timeoutMs)`, `isOnline(agentId)`, for other plugins. */
    agentRouter: AgentRouter;
  }
  interface FastifyRequest {
    controlAgent: AuthenticatedAgent | null;
  }
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema };

async function agentsPlugin(app: FastifyInstance): Promise<void> {
  app.decorate('serverEvents', new ServerEvents());
  app.decorate('serverActivity', new ServerActivity(app.serverEvents));
  app.decorate('serverLiveStatus', new ServerLiveStatus(app.store, app.serverEvents));
  const hub = new AgentHub(app.store, app.singleUse, app.config, app.metrics, app.log, app.serverEvents, app.audit);
  app.decorate('agents', hub);
  const { bus, replicas } = app.cluster;
  const router = new AgentRouter(hub, app.config.agents.requestTimeoutMs, app.log, replicas === undefined ? undefined : { bus, replicas, store: app.store });
  if (replicas !== undefined) {
    const stopSharing = shareServerEvents(app.serverEvents, bus, replicas.id, (error) => app.log.warn({ err: error }, 'could not share a server change with the other replicas'));
    // An agent came or went on another replica (or with it): its servers' `agent` field changed for the feeds here.
    router.onRemoteChange = (agentId) => {
      app.store
        .selectFrom('servers')
        .select('id')
        .where('agent_id', '=', agentId)
        .execute()
        .then((rows) => app.serverEvents.receive({ changed: rows.map((row) => row.id), removed: [] }))
        .catch((error: unknown) => app.log.warn({ err: error, agentId }, 'could not announce an agent presence change'));
    };
    const stopSessions = shareServerSessions(app.serverActivity, bus, replicas, (error) => app.log.warn({ err: error }, 'could not share console counts with the other replicas'));
    app.addHook('onClose', async () => {
      stopSharing();
      stopSessions();
    });
  }
  await router.start();
  app.decorate('agentRouter', router);
  app.addHook('onClose', async () => router.close());
  app.decorateRequest('controlAgent', null);
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/v1/agents/join-tokens',
    { config: { permission: 'agents.manage' }, schema: { tags: ['agents'], security: [{ bearer: [] }], body: JoinTokenCreate, response: { 201: JoinTokenCreated, ...errors } } },
    async (request, reply) => {
      const { body } = request;
      const principal = request.principal!;
      const now = Date.now();
      await app.store.insertInto('regions').values({ id: body.region, created_at: now }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
      await app.store.insertInto('datacenters').values({ id: body.datacenter, region: body.region, created_at: now }).onConflict((conflict) => conflict.columns(['region', 'id']).doNothing()).execute();
      const { token, expiresAt } = await createJoinToken(app.store, { region: body.region, datacenter: body.datacenter, tenants: body.tenants, ttlSeconds: body.ttlSeconds ?? app.config.agents.joinTokenTtlSeconds, createdBy: principal.subject });
      await app.audit.fromRequest(request, { action: 'join-token.create', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `datacenter:${body.region}/${body.datacenter}`, details: { joinToken: hashJoinToken(token), expiresAt: expiresAt.toISOString(), tenants: body.tenants } });
      return reply.status(201).send({ id: hashJoinToken(token), token, region: body.region, datacenter: body.datacenter, tenants: body.tenants, expiresAt: expiresAt.toISOString() });
    },
  );

  api.get('/v1/agents/join-tokens', { config: { permission: 'agents.manage' }, schema: { tags: ['agents'], security: [{ bearer: [] }], response: { 200: JoinTokenList, ...errors } } }, async () => ({ joinTokens: await listJoinTokens(app.store) }));

  // Typed by its generic, not the provider: the provider would type the 204's send() as needing the schema's null body.
  app.delete<{ Params: { id: string } }>(
    '/v1/agents/join-tokens/:id',
    { config: { permission: 'agents.manage' }, schema: { tags: ['agents'], security: [{ bearer: [] }], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), ...errors, 409: ErrorBodySchema } } },
    async (request, reply) => {
      const principal = request.principal!;
      const placement = await revokeJoinToken(app.store, request.params.id);
      await app.audit.fromRequest(request, { action: 'join-token.revoke', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `datacenter:${placement.region}/${placement.datacenter}`, details: { joinToken: request.params.id } });
      return reply.status(204).send();
    },
  );

  const enrollGuard = new EnrollmentGuard(app.config.limits.enrollment.failuresPerAddress);
  const auditEnrollFailures = (row: EnrollFailureRow, details: Record<string, unknown>) =>
    app.audit.append({ action: 'agent.enroll', outcome: 'failure', target: 'agent-enroll', sourceIp: row.sourceIp, details: { ...details, attempts: row.attempts, ...(row.addresses === undefined ? {} : { addresses: row.addresses }) } });
  const flushEnrollFailures = setInterval(() => {
    for (const row of enrollGuard.flush()) void auditEnrollFailures(row, { code: 'REPEATED_FAILURES', windowSeconds: app.config.limits.enrollment.failureAuditWindowSeconds });
  }, app.config.limits.enrollment.failureAuditWindowSeconds * 1000);
  flushEnrollFailures.unref();
  app.addHook('onClose', async () => {
    clearInterval(flushEnrollFailures);
    for (const row of enrollGuard.flush()) await auditEnrollFailures(row, { code: 'REPEATED_FAILURES', windowSeconds: app.config.limits.enrollment.failureAuditWindowSeconds });
  });

  api.post('/v1/agents/enroll', { config: { permission: 'public' }, schema: { tags: ['agents'], body: AgentEnroll, response: { 201: AgentEnrolled, ...errors } } }, async (request, reply) => {
    const { body } = request;
    try {
      enrollGuard.check(request.ip);
    } catch (error) {
      const row = enrollGuard.failed(request.ip, true);
      if (row !== undefined) await auditEnrollFailures(row, { code: 'RATE_LIMITED', name: body.name });
      throw error;
    }
    try {
      await importJWK({ kty: 'OKP', crv: 'Ed25519', x: body.publicKey.x }, 'EdDSA');
    } catch {
      throw new LightsoutError('VALIDATION_FAILED', 'publicKey is not a usable Ed25519 public key');
    }
    const agentId = randomUUID();
    let placement: { region: string; datacenter: string };
    try {
      placement = await app.store.transaction().execute(async (transaction) => {
        const consumed = await consumeJoinToken(transaction, body.joinToken, agentId);
        await transaction
          .insertInto('agents')
          .values({ id: agentId, name: body.name, region: consumed.region, datacenter: consumed.datacenter, public_jwk: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: body.publicKey.x }), revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: Date.now(), tenants: consumed.tenants })
          .execute();
        return consumed;
      });
    } catch (error) {
      const row = enrollGuard.failed(request.ip, false);
      if (row !== undefined) await app.audit.fromRequest(request, { action: 'agent.enroll', outcome: 'failure', target: `agent-name:${body.name}`, details: { code: error instanceof LightsoutError ? error.code : 'INTERNAL', attempts: row.attempts } });
      throw error;
    }
    await app.audit.fromRequest(request, { action: 'agent.enroll', outcome: 'success', subject: agentId, target: `agent:${agentId}`, details: { name: body.name, region: placement.region, datacenter: placement.datacenter } });
    return reply.status(201).send({ agentId, region: placement.region, datacenter: placement.datacenter, audience: app.config.agentAudience });
  });

  app.get('/v1/agents', { config: { permission: 'agents.manage' }, schema: { tags: ['agents'], security: [{ bearer: [] }], response: { 200: AgentList, ...errors } } }, async () => ({
    agents: await listAgentViews(app.store, (agentId) => router.isOnline(agentId)),
  }));

  api.post(
    '/v1/agents/:id/revoke',
    { config: { permission: 'agents.manage' }, schema: { tags: ['agents'], security: [{ bearer: [] }], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: AgentView, ...errors } } },
    async (request) => {
      const { id } = request.params;
      const principal = request.principal!;
      const result = await app.store.updateTable('agents').set({ revoked: 1 }).where('id', '=', id).executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new LightsoutError('NOT_FOUND', `no agent ${id}`);
      router.revoke(id);
      await app.audit.fromRequest(request, { action: 'agent.revoke', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `agent:${id}` });
      const [view] = await listAgentViews(app.store, (agentId) => router.isOnline(agentId), id);
      return view!;
    },
  );

  // Widening takes effect at the agent's next inventory (it sends one each time it connects); narrowing at once:
  // the agent's servers in a tenant no longer named go, except those a provider admin assigned there.
  api.put(
    '/v1/agents/:id/tenants',
    { config: { permission: 'agents.manage' }, schema: { tags: ['agents'], security: [{ bearer: [] }], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), body: AgentTenants, response: { 200: AgentView, ...errors } } },
    async (request) => {
      const { id } = request.params;
      const { tenants } = request.body;
      const principal = request.principal!;
      await requireTenants(app.store, tenants);
      const { before, removed } = await app.store.transaction().execute(async (transaction) => {
        const agent = await transaction.selectFrom('agents').select('tenants').where('id', '=', id).executeTakeFirst();
        if (agent === undefined) throw new LightsoutError('NOT_FOUND', `no agent ${id}`);
        await transaction.updateTable('agents').set({ tenants: JSON.stringify(tenants) }).where('id', '=', id).execute();
        const assigned = transaction.selectFrom('server_assignments').select('server_id');
        const rows = await transaction.selectFrom('servers').select(['id', 'tenant_id']).where('agent_id', '=', id).where('tenant_id', 'not in', tenants).where('id', 'not in', assigned).execute();
        if (rows.length > 0) await transaction.deleteFrom('servers').where('id', 'in', rows.map((row) => row.id)).where('agent_id', '=', id).execute();
        return { before: agent.tenants === null ? null : (JSON.parse(agent.tenants) as string[]), removed: rows.map((row) => ({ id: row.id, tenant: row.tenant_id })) };
      });
      app.serverEvents.serversRemoved(removed);
      await app.audit.fromRequest(request, { action: 'agent.tenants', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `agent:${id}`, details: { tenants, before, removedServers: removed.map((server) => server.id) } });
      const [view] = await listAgentViews(app.store, (agentId) => router.isOnline(agentId), id);
      return view!;
    },
  );

  // A revoked agent can no longer update or remove its servers; a provider admin removes them (revoke first: an active agent registers them again).
  api.delete(
    '/v1/agents/:id/servers',
    {
      config: { permission: 'agents.manage' },
      schema: { tags: ['agents'], security: [{ bearer: [] }], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: Type.Object({ removed: Type.Array(Type.String()) }), ...errors, 409: ErrorBodySchema } },
    },
    async (request) => {
      const { id } = request.params;
      const principal = request.principal!;
      const agent = await app.store.selectFrom('agents').select(['revoked']).where('id', '=', id).executeTakeFirst();
      if (agent === undefined) throw new LightsoutError('NOT_FOUND', `no agent ${id}`);
      if (agent.revoked === 0) throw new LightsoutError('CONFLICT', `agent ${id} is not revoked; it would register its servers again`, { hint: `revoke it first: lightsout agents revoke ${id}` });
      const removed = await app.store.transaction().execute(async (transaction) => {
        const rows = await transaction.selectFrom('servers').select(['id', 'tenant_id']).where('agent_id', '=', id).execute();
        await transaction.deleteFrom('servers').where('agent_id', '=', id).execute();
        return rows.map((row) => ({ id: row.id, tenant: row.tenant_id }));
      });
      app.serverEvents.serversRemoved(removed);
      await app.audit.fromRequest(request, { action: 'agent.servers.delete', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `agent:${id}`, details: { servers: removed.map((server) => server.id) } });
      return { removed: removed.map((server) => server.id) };
    },
  );

  // The control channel. Authentication happens before the upgrade, so a
  // refused agent gets a plain HTTP error with the ErrorBody JSON.
  app.get(
    '/v1/agent/connect',
    {
      websocket: true,
      config: { permission: 'agent-token' },
      schema: { tags: ['agents'], hide: true },
      preValidation: async (request: FastifyRequest) => {
        request.controlAgent = await hub.authenticate(bearerToken(request.headers.authorization));
      },
    },
    (socket, request) => {
      hub.attach(request.controlAgent!, socket);
    },
  );
}

export default fp(agentsPlugin, { name: 'lightsout-agents', dependencies: ['lightsout-store', 'lightsout-identity', 'lightsout-metrics', 'lightsout-audit', 'lightsout-cluster'] });
