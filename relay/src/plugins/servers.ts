import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CredentialsRetryResult, ServerDetail, ServerList } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type CountBmcOperation, TenantLabels, registerBmcOperationMetrics, registerServerMetrics } from '../inventory/metrics.js';
import { type ServerOperations, createServerOperations } from '../inventory/operations.js';
import { ServerParams, serverErrors, serverTag } from '../inventory/route-schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The server operations the REST routes and the MCP tools share (inventory/operations.ts). */
    serverOperations: ServerOperations;
    /** The `tenant` label of per-tenant metrics: the metrics.maxTenants tenants with the most servers, the rest "other". */
    tenantLabels: TenantLabels;
    /** Counts one BMC operation's outcome for a tenant (`lightsout_tenant_bmc_operations_total`): the server operations and bulk jobs report here. */
    countBmcOperation: CountBmcOperation;
  }
}

/**
 * Servers as agents registered them, tenant-scoped: `GET /v1/servers`,
 * `GET /v1/servers/:id`, `POST /v1/servers/:id/credentials/retry`. Decorates
 * `serverOperations`, which the power, boot, sensors and SEL routes, the MCP
 * tools and the RPC services forward through (so it is registered first).
 */
async function serversPlugin(app: FastifyInstance): Promise<void> {
  const tenantLabels = new TenantLabels(app.store, app.config.metrics.maxTenants);
  app.decorate('tenantLabels', tenantLabels);
  registerServerMetrics(app.metrics.registry, app.store, tenantLabels, (agentId) => app.agentRouter.isOnline(agentId));
  const countBmcOperation = registerBmcOperationMetrics(app.metrics.registry, app.metrics.gateway, tenantLabels);
  app.decorate('countBmcOperation', countBmcOperation);
  const operations = createServerOperations(app, countBmcOperation);
  app.decorate('serverOperations', operations);
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get('/v1/servers', { config: { permission: 'servers.read' }, schema: { ...serverTag, response: { 200: ServerList, ...serverErrors } } }, async (request) => ({
    servers: await operations.list(request),
  }));

  api.get('/v1/servers/:id', { config: { permission: 'servers.read' }, schema: { ...serverTag, params: ServerParams, response: { 200: ServerDetail, ...serverErrors } } }, async (request) =>
    operations.detail(request, request.params.id),
  );

  api.post('/v1/servers/:id/credentials/retry', { config: { permission: 'credentials.retry' }, schema: { ...serverTag, params: ServerParams, response: { 200: CredentialsRetryResult, ...serverErrors } } }, async (request) =>
    operations.credentialsRetry(request, request.params.id),
  );
}

export default fp(serversPlugin, { name: 'lightsout-servers' });
