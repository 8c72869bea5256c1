import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { BulkAccepted, BulkJobView, BulkRequest, ErrorBodySchema, LightsoutError } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { stepUpChallenge, stepUpPolicy } from '../access/step-up.js';
import { BulkService, bulkPermission } from '../bulk/service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Fleet-wide bulk jobs (bulk/service.ts): what REST, MCP and RPC call with their authenticated principal. */
    bulk: BulkService;
  }
}

const JobParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 429: ErrorBodySchema };
const secured = { tags: ['bulk'], security: [{ bearer: [] }] };

/** The bulk route needs what one server's operation needs (a dry run: servers.read); the service checks it again. */
const bulkAction = {
  least: 'servers.read',
  // The access hook runs `of` on the body the schema validated; its request is untyped, so the body is named here.
  of: (request: FastifyRequest<{ Body: BulkRequest }>) => bulkPermission(request.body.operation, request.body.dryRun === true),
} as const;

/**
 * `POST /v1/bulk` (202: job id and resolved count; a dry run: 200 and the
 * list) and `GET /v1/bulk/{id}` (results so far). Progress also goes out on
 * `/v1/events` to the job's caller (events.ts). Registered before the
 * events and media plugins, which use `app.bulk`.
 */
async function bulkPlugin(app: FastifyInstance): Promise<void> {
  const service = new BulkService({
    store: app.store,
    request: (agentId, op, params, timeoutMs) => app.agentRouter.request(agentId, op, params, timeoutMs),
    fairness: app.bmcFairness,
    confirmations: app.powerConfirmations,
    audit: (event) => app.audit.append(event),
    stepUpPolicy: (tenant) => stepUpPolicy(app, tenant),
    config: app.config.bulk,
    onError: (serverId, error) => app.log.debug({ serverId, err: error }, 'bulk operation failed on a server'),
    onResult: app.countBmcOperation,
  });
  app.decorate('bulk', service);
  app.addHook('onClose', async () => service.stop());
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/v1/bulk',
    { config: { permission: bulkAction }, schema: { ...secured, body: BulkRequest, response: { 200: BulkAccepted, 202: BulkAccepted, ...errors } } },
    async (request, reply) => {
      try {
        const accepted = await service.submit(request.principal!, request.body, { sourceIp: request.ip, correlationId: request.id });
        return reply.status(accepted.dryRun ? 200 : 202).send(accepted);
      } catch (error) {
        if (error instanceof LightsoutError && error.code === 'STEP_UP_REQUIRED') {
          reply.header('www-authenticate', stepUpChallenge(await stepUpPolicy(app, request.principal!.tenant)));
        }
        throw error;
      }
    },
  );

  api.get('/v1/bulk/:id', { config: { permission: 'servers.read' }, schema: { ...secured, params: JobParams, response: { 200: BulkJobView, ...errors } } }, async (request) => {
    return service.get(request.principal!, request.params.id);
  });
}

export default fp(bulkPlugin, { name: 'lightsout-bulk', dependencies: ['lightsout-agents', 'lightsout-power', 'lightsout-fairness', 'lightsout-audit'] });
