import { type BootRequest, type BootResult, type BootOverride, type CredentialsRetryResult, LightsoutError, type PowerAction, type PowerResult, type SelList, type SensorHistory, type SensorList, type ServerDetail, type ServerIdentity, type ServerView } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { can } from '../access/permissions.js';
import { serverConnection } from './connection.js';
import type { CountBmcOperation } from './metrics.js';
import { findServer, listServers, toServerView } from './servers.js';

/**
 * The server operations behind both the REST routes (plugins/servers.ts, power-routes.ts, boot.ts, sensors.ts, hardware-identity.ts, sel.ts)
 * and the MCP tools (plugins/mcp): one implementation. Each takes the
 * request it serves (its principal, source address and id go into the
 * audit log) and assumes the caller was authorised for it (the access hook,
 * or app.access.authorize for a tool). Acting operations are audited here,
 * with the outcome and error code.
 */
export interface ServerOperations {
  list(request: FastifyRequest): Promise<ServerView[]>;
  get(request: FastifyRequest, serverId: string): Promise<ServerView>;
  /** The view and which agent and gateway carry the server now (`GET /v1/servers/{id}`). */
  detail(request: FastifyRequest, serverId: string): Promise<ServerDetail>;
  powerStatus(request: FastifyRequest, serverId: string): Promise<PowerResult>;
  powerAction(request: FastifyRequest, serverId: string, action: PowerAction): Promise<PowerResult>;
  credentialsRetry(request: FastifyRequest, serverId: string): Promise<CredentialsRetryResult>;
  getBoot(request: FastifyRequest, serverId: string): Promise<BootOverride>;
  setBoot(request: FastifyRequest, serverId: string, boot: BootRequest): Promise<BootResult>;
  sensors(request: FastifyRequest, serverId: string): Promise<SensorList>;
  /** The readings the server's agent kept (it records every sensors.list it answers), oldest first. */
  sensorHistory(request: FastifyRequest, serverId: string): Promise<SensorHistory>;
  /** Vendor, model, serial, BMC firmware and BIOS version, as far as the BMC reports them. */
  identity(request: FastifyRequest, serverId: string): Promise<ServerIdentity>;
  eventLog(request: FastifyRequest, serverId: string): Promise<SelList>;
  clearEventLog(request: FastifyRequest, serverId: string): Promise<void>;
}

export function createServerOperations(app: FastifyInstance, countBmcOperation: CountBmcOperation = () => undefined): ServerOperations {
  const isOnline = (agentId: string) => app.agentRouter.isOnline(agentId);
  const confirmations = app.powerConfirmations;

  /** Forward an operation to the server's agent and audit it (success or the error code), unless it only reads. */
  async function forward<T>(request: FastifyRequest, serverId: string, action: string | undefined, run: (agentId: string) => Promise<T>): Promise<T> {
    const principal = request.principal!;
    const server = await findServer(app.store, principal, serverId);
    let release: (() => void) | undefined;
    try {
      release = app.bmcFairness.admit({ subject: principal.subject, tenant: server.tenant_id, agentId: server.agent_id });
      let result: T;
      try {
        result = await run(server.agent_id);
      } catch (error) {
        countBmcOperation(server.tenant_id, error instanceof LightsoutError ? error.code : 'INTERNAL');
        throw error;
      }
      countBmcOperation(server.tenant_id, 'ok');
      if (action !== undefined) await app.audit.fromRequest(request, { action, outcome: 'success', subject: principal.subject, tenant: server.tenant_id, target: `server:${server.id}` });
      return result;
    } catch (error) {
      if (action !== undefined) await app.audit.fromRequest(request, { action, outcome: 'failure', subject: principal.subject, tenant: server.tenant_id, target: `server:${server.id}`, details: { code: error instanceof LightsoutError ? error.code : 'INTERNAL' } });
      throw error;
    } finally {
      release?.();
    }
  }

  const operations: ServerOperations = {
    async list(request) {
      return (await listServers(app.store, request.principal!)).map((row) => toServerView(row, isOnline, app.serverActivity));
    },
    async get(request, serverId) {
      return toServerView(await findServer(app.store, request.principal!, serverId), isOnline, app.serverActivity);
    },
    async detail(request, serverId) {
      const principal = request.principal!;
      const view = toServerView(await findServer(app.store, principal, serverId), isOnline, app.serverActivity);
      const self = { url: app.config.publicUrl, region: app.config.region ?? null };
      const connection = await serverConnection({ store: app.store, isOnline, gatewayOf: (agentId) => app.agentRouter.gatewayOf(agentId, self) }, view.agentId, can(principal.role, 'agents.manage'));
      // The server's own legs only, all of its tenant (a session is opened on a server of the caller's tenant, or by a provider admin).
      const consoles = app.serverActivity.consolesOf(view.id);
      return { ...view, ...(connection === undefined ? {} : { connection }), consoles };
    },
    powerStatus(request, serverId) {
      return forward(request, serverId, undefined, (agentId) => app.agentRouter.request(agentId, 'power.get', { serverId }));
    },
    async powerAction(request, serverId, action) {
      const before = (await findServer(app.store, request.principal!, serverId)).power;
      const result = await forward(request, serverId, `power.${action}`, (agentId) => app.agentRouter.request(agentId, 'power.set', { serverId, action }));
      // The BMC accepted the action; what it reports now is usually the old state. The server is
      // pending until the BMC reports the target (PowerConfirmations), and that is what gets stored.
      // An "off" in the answer to a cycle is its off phase seen: a BMC may be on again before the first read.
      const { pending, noted } = confirmations.start(serverId, action, before === 'on' || before === 'off' ? before : result.power, Date.now(), { accepted: result.power });
      // Stored before the answer: the client's next question may reach another replica (docs/deployment.md, Shared state).
      await noted;
      return { ...result, pending };
    },
    // The agent holds off logging in after the BMC rejected the credentials (so the BMC never locks the account);
    // once an admin has fixed them on the BMC, this makes it try at once.
    credentialsRetry(request, serverId) {
      return forward(request, serverId, 'credentials.retry', (agentId) => app.agentRouter.request(agentId, 'credentials.retry', { serverId }));
    },
    getBoot(request, serverId) {
      return forward(request, serverId, undefined, (agentId) => app.agentRouter.request(agentId, 'boot.get', { serverId }));
    },
    setBoot(request, serverId, boot) {
      // no uefi in the request: the BMC keeps its boot mode
      return forward(request, serverId, 'boot.set', (agentId) =>
        app.agentRouter.request(agentId, 'boot.set', { serverId, device: boot.device, persistent: boot.persistent ?? false, ...(boot.uefi === undefined ? {} : { uefi: boot.uefi }) }),
      );
    },
    sensors(request, serverId) {
      return forward(request, serverId, undefined, (agentId) => app.agentRouter.request(agentId, 'sensors.list', { serverId }));
    },
    sensorHistory(request, serverId) {
      return forward(request, serverId, undefined, (agentId) => app.agentRouter.request(agentId, 'sensors.history', { serverId }));
    },
    identity(request, serverId) {
      return forward(request, serverId, undefined, (agentId) => app.agentRouter.request(agentId, 'identity.get', { serverId }));
    },
    eventLog(request, serverId) {
      return forward(request, serverId, undefined, (agentId) => app.agentRouter.request(agentId, 'sel.list', { serverId }));
    },
    async clearEventLog(request, serverId) {
      await forward(request, serverId, 'sel.clear', (agentId) => app.agentRouter.request(agentId, 'sel.clear', { serverId }));
    },
  };
  return operations;
}
