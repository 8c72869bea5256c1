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
  LightsoutError,
} from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { powerPermission } from '../access/permissions.js';
import { findServer, listServers, toServerView } from '../inventory/servers.js';
import { registerServerMetrics } from '../inventory/metrics.js';

const ServerParams = Type.Object({ id: Slug });
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 429: ErrorBodySchema, 502: ErrorBodySchema, 503: ErrorBodySchema, 504: ErrorBodySchema };
const secured = { tags: ['servers'], security: [{ bearer: [] }] };
/** `status` reads; `on` needs operator; off, cycle and reset are destructive (step-up). */
const powerAction = { least: 'power.read', of: (request: FastifyRequest) => powerPermission((request.body as PowerRequest).action) } as const;

/** The inventory API: servers as agents registered them, tenant-scoped, and BMC operations forwarded to the owning agent. */
export default async function inventoryPlugin(app: FastifyInstance): Promise<void> {
  registerServerMetrics(app.metrics.registry, app.store);
  const isOnline = (agentId: string) => app.agents.isOnline(agentId);
  const confirmations = app.powerConfirmations;

  /** Forward an operation and audit it (success or the error code), unless it only reads. */
  async function forward<T>(request: FastifyRequest, serverId: string, action: string | undefined, run: (agentId: string) => Promise<T>): Promise<T> {
    const principal = request.principal!;
    const server = await findServer(app.store, principal, serverId);
    let release: (() => void) | undefined;
    try {
      release = app.bmcFairness.admit({ subject: principal.subject, tenant: server.tenant_id, agentId: server.agent_id });
      const result = await run(server.agent_id);
      if (action !== undefined) await app.audit.fromRequest(request, { action, outcome: 'success', subject: principal.subject, tenant: server.tenant_id, target: `server:${server.id}` });
      return result;
    } catch (error) {
      if (action !== undefined) await app.audit.fromRequest(request, { action, outcome: 'failure', subject: principal.subject, tenant: server.tenant_id, target: `server:${server.id}`, details: { code: error instanceof LightsoutError ? error.code : 'INTERNAL' } });
      throw error;
    } finally {
      release?.();
    }
  }

  app.get('/v1/servers', { config: { permission: 'servers.read' }, schema: { ...secured, response: { 200: ServerList, ...errors } } }, async (request) => ({
    servers: (await listServers(app.store, request.principal!)).map((row) => toServerView(row, isOnline, app.serverActivity)),
  }));

  app.get('/v1/servers/:id', { config: { permission: 'servers.read' }, schema: { ...secured, params: ServerParams, response: { 200: ServerView, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return toServerView(await findServer(app.store, request.principal!, id), isOnline, app.serverActivity);
  });

  app.post('/v1/servers/:id/power', { config: { permission: powerAction }, schema: { ...secured, params: ServerParams, body: PowerRequest, response: { 200: PowerResult, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    const { action } = request.body as PowerRequest;
    if (action === 'status') return forward(request, id, undefined, (agentId) => app.agents.request(agentId, 'power.get', { serverId: id }));
    const before = (await findServer(app.store, request.principal!, id)).power;
    const result = await forward(request, id, `power.${action}`, (agentId) => app.agents.request(agentId, 'power.set', { serverId: id, action }));
    // The BMC accepted the action; what it reports now is usually the old state. The server is
    // pending until the BMC reports the target (PowerConfirmations), and that is what gets stored.
    const { pending } = confirmations.start(id, action, before === 'on' || before === 'off' ? before : result.power);
    return { ...result, pending };
  });

  // The agent holds off logging in after the BMC rejected the credentials (so the BMC never locks the account);
  // once an admin has fixed them on the BMC, this makes it try at once.
  app.post('/v1/servers/:id/credentials/retry', { config: { permission: 'credentials.retry' }, schema: { ...secured, params: ServerParams, response: { 200: CredentialsRetryResult, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return forward(request, id, 'credentials.retry', (agentId) => app.agents.request(agentId, 'credentials.retry', { serverId: id }));
  });

  app.get('/v1/servers/:id/boot', { config: { permission: 'servers.read' }, schema: { ...secured, params: ServerParams, response: { 200: BootOverride, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return forward(request, id, undefined, (agentId) => app.agents.request(agentId, 'boot.get', { serverId: id }));
  });

  app.post('/v1/servers/:id/boot', { config: { permission: 'boot.set' }, schema: { ...secured, params: ServerParams, body: BootRequest, response: { 200: BootResult, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    const body = request.body as BootRequest;
    // no uefi in the request: the BMC keeps its boot mode
    return forward(request, id, 'boot.set', (agentId) =>
      app.agents.request(agentId, 'boot.set', { serverId: id, device: body.device, persistent: body.persistent ?? false, ...(body.uefi === undefined ? {} : { uefi: body.uefi }) }),
    );
  });

  app.get('/v1/servers/:id/sensors', { config: { permission: 'sensors.read' }, schema: { ...secured, params: ServerParams, response: { 200: SensorList, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return forward(request, id, undefined, (agentId) => app.agents.request(agentId, 'sensors.list', { serverId: id }));
  });

  app.get('/v1/servers/:id/sel', { config: { permission: 'servers.read' }, schema: { ...secured, params: ServerParams, response: { 200: SelList, ...errors } } }, async (request) => {
    const { id } = request.params as { id: string };
    return forward(request, id, undefined, (agentId) => app.agents.request(agentId, 'sel.list', { serverId: id }));
  });

  app.delete('/v1/servers/:id/sel', { config: { permission: 'sel.clear' }, schema: { ...secured, params: ServerParams, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    await forward(request, id, 'sel.clear', (agentId) => app.agents.request(agentId, 'sel.clear', { serverId: id }));
    return reply.status(204).send();
  });
}
