import {
  BootOverride,
  BootRequest,
  BootResult,
  CredentialsRetryResult,
  ErrorBodySchema,
  PowerRequest,
  PowerResult,
  SelList,
  SensorList,
  ServerList,
  ServerView,
  Slug,
} from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { powerPermission } from '../access/permissions.js';
import { registerServerMetrics } from '../inventory/metrics.js';
import { type ServerOperations, createServerOperations } from '../inventory/operations.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The server operations the REST routes and the MCP tools share (inventory/operations.ts). */
    serverOperations: ServerOperations;
  }
}

const ServerParams = Type.Object({ id: Slug });
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 429: ErrorBodySchema, 502: ErrorBodySchema, 503: ErrorBodySchema, 504: ErrorBodySchema };
const secured = { tags: ['servers'], security: [{ bearer: [] }] };
/** `status` reads; `on` needs operator; off, cycle and reset are destructive (step-up). */
const powerAction = { least: 'power.read', of: (request: FastifyRequest) => powerPermission((request.body as PowerRequest).action) } as const;

/** The inventory API: servers as agents registered them, tenant-scoped, and BMC operations forwarded to the owning agent. */
async function inventoryPlugin(app: FastifyInstance): Promise<void> {
  registerServerMetrics(app.metrics.registry, app.store);
  const operations = createServerOperations(app);
  app.decorate('serverOperations', operations);

  app.get('/v1/servers', { config: { permission: 'servers.read' }, schema: { ...secured, response: { 200: ServerList, ...errors } } }, async (request) => ({
    servers: await operations.list(request),
  }));

  app.get('/v1/servers/:id', { config: { permission: 'servers.read' }, schema: { ...secured, params: ServerParams, response: { 200: ServerView, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return operations.get(request, id);
  });

  app.post('/v1/servers/:id/power', { config: { permission: powerAction }, schema: { ...secured, params: ServerParams, body: PowerRequest, response: { 200: PowerResult, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    const { action } = request.body as PowerRequest;
    return action === 'status' ? operations.powerStatus(request, id) : operations.powerAction(request, id, action);
  });

  app.post('/v1/servers/:id/credentials/retry', { config: { permission: 'credentials.retry' }, schema: { ...secured, params: ServerParams, response: { 200: CredentialsRetryResult, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return operations.credentialsRetry(request, id);
  });

  app.get('/v1/servers/:id/boot', { config: { permission: 'servers.read' }, schema: { ...secured, params: ServerParams, response: { 200: BootOverride, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return operations.getBoot(request, id);
  });

  app.post('/v1/servers/:id/boot', { config: { permission: 'boot.set' }, schema: { ...secured, params: ServerParams, body: BootRequest, response: { 200: BootResult, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return operations.setBoot(request, id, request.body as BootRequest);
  });

  app.get('/v1/servers/:id/sensors', { config: { permission: 'sensors.read' }, schema: { ...secured, params: ServerParams, response: { 200: SensorList, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return operations.sensors(request, id);
  });

  app.get('/v1/servers/:id/sel', { config: { permission: 'servers.read' }, schema: { ...secured, params: ServerParams, response: { 200: SelList, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return operations.eventLog(request, id);
  });

  app.delete('/v1/servers/:id/sel', { config: { permission: 'sel.clear' }, schema: { ...secured, params: ServerParams, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    await operations.clearEventLog(request, id);
    return reply.status(204).send();
  });
}

export default fp(inventoryPlugin, { name: 'lightsout-inventory' });
