import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { type ConnectRouter, type HandlerContext, createContextKey } from '@connectrpc/connect';
import { LightsoutError, SLUG_PATTERN, type SessionCreate } from '@lightsout/shared';
import {
  BootService,
  BulkService,
  ClearEventLogResponseSchema,
  EventLogService,
  GetBootOverrideResponseSchema,
  GetPowerResponseSchema,
  GetServerResponseSchema,
  ListEventLogEntriesResponseSchema,
  ListSensorsResponseSchema,
  ListServersResponseSchema,
  PowerService,
  SensorService,
  ServerService,
  SessionService,
  SetBootOverrideResponseSchema,
  SetPowerResponseSchema,
  SubmitBulkResponseSchema,
  type WatchServersResponse,
  WatchServersResponseSchema,
  reflectionV1,
  reflectionV1alpha,
} from '@lightsout/shared/rpc';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Permission, powerPermission } from '../access/permissions.js';
import { bulkPermission } from '../bulk/service.js';
import { matchesFilter } from '../inventory/filter.js';
import { type FeedEnd, type FeedMessage, openServerFeed } from '../inventory/feed.js';
import { bearerTokenOf } from '../plugins/access.js';
import {
  bootDeviceName,
  bootDeviceOf,
  bulkJobMessage,
  bulkOperationJson,
  bulkSelectorJson,
  bulkTargetMessage,
  eventLogEntryMessage,
  pendingPowerMessage,
  powerActionName,
  powerStateName,
  powerStateOf,
  sensorMessage,
  serverMessage,
  sessionKindName,
  sessionMessage,
  sessionModeName,
} from './convert.js';
import { toConnectError } from './errors.js';
import { ReflectionIndex } from './reflection.js';

/** The Fastify request a procedure serves: its bearer token, source address and id (the audit log's origin). */
export const FASTIFY_REQUEST = createContextKey<FastifyRequest | undefined>(undefined, { description: 'the Fastify request of an RPC' });

/** A watcher this far behind is ended (RESOURCE_EXHAUSTED) instead of buffering without bound. */
const MAX_QUEUED_EVENTS = 10_000;

const SERVER_ID = new RegExp(SLUG_PATTERN);

function serverIdOf(value: string): string {
  if (!SERVER_ID.test(value)) throw new LightsoutError('VALIDATION_FAILED', 'server_id must be a server id (lowercase letters, digits, . _ -)');
  return value;
}

export interface RpcOptions {
  /** Aborted when the relay closes: watches end cleanly instead of holding the shutdown. */
  closing: AbortSignal;
}

/**
 * The RPC procedures: each one authenticates with the access hook's own
 * functions (app.access.authenticate, then app.access.authorize for the
 * permission and the server's tenant and grants — the same decision a REST
 * route gets, denials audited the same way), takes a rate token like the
 * REST route it mirrors, and calls the same service function the REST
 * handler and the MCP tool call (inventory/operations.ts, bulk/service.ts,
 * the streams plugin's openSession, inventory/feed.ts). Those audit what
 * they do. Errors leave as the caller's protocol carries them (errors.ts).
 */
export function registerRpcServices(app: FastifyInstance, router: ConnectRouter, options: RpcOptions): void {
  const operations = app.serverOperations;

  /** The request behind a call, authenticated; BMC operations first take a rate token for the credential, as their REST routes do. */
  async function begin(context: HandlerContext, bmcOperation: boolean): Promise<FastifyRequest> {
    const request = context.values.get(FASTIFY_REQUEST);
    if (request === undefined) throw new LightsoutError('INTERNAL', 'an RPC without its HTTP request');
    // Checked before the credential is verified, like the REST routes' onRequest check (plugins/fairness.ts).
    const credential = request.headers.authorization;
    if (bmcOperation && credential !== undefined) app.bmcFairness.admitCredential(createHash('sha256').update(credential).digest('base64url'));
    await app.access.authenticate(request);
    return request;
  }

  /** A unary procedure: authenticate, authorize, run; any failure as a Connect error. */
  function unary<I, O>(bmcOperation: boolean, run: (request: FastifyRequest, input: I) => Promise<O>) {
    return async (input: I, context: HandlerContext): Promise<O> => {
      const request = context.values.get(FASTIFY_REQUEST);
      try {
        return await run(await begin(context, bmcOperation), input);
      } catch (error) {
        throw toConnectError(error, request?.log ?? app.log);
      }
    };
  }

  const authorize = (request: FastifyRequest, permission: Permission, serverId?: string) => app.access.authorize(request, permission, serverId);

  router.service(ServerService, {
    listServers: unary(false, async (request, input) => {
      await authorize(request, 'servers.read');
      const power = powerStateName(input.power);
      const filter = {
        ...(input.name === '' ? {} : { name: input.name }),
        labels: input.labels,
        ...(input.rack === '' ? {} : { rack: input.rack }),
        ...(input.datacenter === '' ? {} : { datacenter: input.datacenter }),
        ...(input.region === '' ? {} : { region: input.region }),
        ...(power === undefined ? {} : { power }),
      };
      const servers = (await operations.list(request)).filter((server) => matchesFilter(server, filter));
      return create(ListServersResponseSchema, { servers: servers.map(serverMessage) });
    }),
    getServer: unary(false, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      await authorize(request, 'servers.read', serverId);
      return create(GetServerResponseSchema, { server: serverMessage(await operations.get(request, serverId)) });
    }),
    async *watchServers(_input, context) {
      const request = context.values.get(FASTIFY_REQUEST);
      const log = request?.log ?? app.log;
      const events: FeedMessage[] = [];
      /** Why the stream ends: at once, ahead of any backlog (a revoked caller gets none of it). */
      let ending: FeedEnd | 'slow' | 'closed' | undefined;
      let wake: (() => void) | undefined;
      let stop: (() => void) | undefined;
      const endWith = (reason: NonNullable<typeof ending>) => {
        if (ending !== undefined) return;
        ending = reason;
        events.length = 0;
        stop?.();
        wake?.();
      };
      const closed = () => endWith('closed');
      try {
        const authenticated = await begin(context, false);
        await authorize(authenticated, 'servers.read');
        stop = openServerFeed(
          app,
          { principal: authenticated.principal!, token: bearerTokenOf(authenticated), log, bulk: false },
          {
            send: (message) => {
              if (ending !== undefined) return;
              // A watcher this far behind is cut off, as /v1/events closes a socket with 1 MB unsent.
              if (events.length >= MAX_QUEUED_EVENTS) return endWith('slow');
              events.push(message);
              wake?.();
            },
            end: (reason) => endWith(reason),
          },
        );
        // Ended while subscribing: stop had not been returned yet.
        if (ending !== undefined) stop();
        options.closing.addEventListener('abort', closed);
        context.signal.addEventListener('abort', closed);
        // An abort during the awaits above fired before anyone listened.
        if (options.closing.aborted || context.signal.aborted) return;
        for (;;) {
          while (events.length === 0 && ending === undefined) await new Promise<void>((resolve) => (wake = resolve));
          if (ending !== undefined) {
            if (ending === 'closed') return;
            if (ending === 'revoked') throw new LightsoutError('FORBIDDEN', 'access revoked');
            if (ending === 'expired') throw new LightsoutError('TOKEN_EXPIRED', 'access token expired', { hint: 'watch again with a fresh token' });
            if (ending === 'slow') throw new LightsoutError('RATE_LIMITED', 'the watcher is too far behind', { hint: 'read the stream faster, or watch again' });
            throw new LightsoutError('INTERNAL', 'the server feed failed; the relay log has the details');
          }
          const item = events.shift()!;
          const message = watchMessage(item);
          if (message !== undefined) yield message;
        }
      } catch (error) {
        throw toConnectError(error, log);
      } finally {
        stop?.();
        options.closing.removeEventListener('abort', closed);
        context.signal.removeEventListener('abort', closed);
      }
    },
  });

  router.service(PowerService, {
    getPower: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      await authorize(request, 'power.read', serverId);
      const result = await operations.powerStatus(request, serverId);
      return create(GetPowerResponseSchema, { power: powerStateOf(result.power) });
    }),
    setPower: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      const action = powerActionName(input.action);
      await authorize(request, powerPermission(action), serverId);
      const result = await operations.powerAction(request, serverId, action);
      return create(SetPowerResponseSchema, { power: powerStateOf(result.power), pending: result.pending ? pendingPowerMessage(result.pending) : undefined });
    }),
  });

  router.service(BootService, {
    getBootOverride: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      await authorize(request, 'servers.read', serverId);
      const boot = await operations.getBoot(request, serverId);
      return create(GetBootOverrideResponseSchema, { device: bootDeviceOf(boot.device), persistent: boot.persistent, uefi: boot.uefi });
    }),
    setBootOverride: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      const device = bootDeviceName(input.device);
      await authorize(request, 'boot.set', serverId);
      const result = await operations.setBoot(request, serverId, { device, persistent: input.persistent, ...(input.uefi === undefined ? {} : { uefi: input.uefi }) });
      return create(SetBootOverrideResponseSchema, { device: bootDeviceOf(result.device), persistent: result.persistent, uefi: result.uefi, warning: result.warning ?? '' });
    }),
  });

  router.service(SensorService, {
    listSensors: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      await authorize(request, 'sensors.read', serverId);
      const { sensors } = await operations.sensors(request, serverId);
      return create(ListSensorsResponseSchema, { sensors: sensors.map(sensorMessage) });
    }),
  });

  router.service(EventLogService, {
    listEventLogEntries: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      await authorize(request, 'servers.read', serverId);
      const { entries } = await operations.eventLog(request, serverId);
      return create(ListEventLogEntriesResponseSchema, { entries: entries.map(eventLogEntryMessage) });
    }),
    clearEventLog: unary(true, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      await authorize(request, 'sel.clear', serverId);
      await operations.clearEventLog(request, serverId);
      return create(ClearEventLogResponseSchema, {});
    }),
  });

  router.service(SessionService, {
    createSession: unary(false, async (request, input) => {
      const serverId = serverIdOf(input.serverId);
      const mode = sessionModeName(input.mode);
      const body: SessionCreate = { kind: sessionKindName(input.kind), ...(mode === undefined ? {} : { mode }), ...(input.takeover ? { takeover: true } : {}) };
      const principal = request.principal!;
      // Watching needs console.view; typing console.control; typing into a console someone else has live takes it over (as the REST route).
      const controls = (mode ?? (principal.role === 'viewer' ? 'view' : 'control')) === 'control';
      const joining = app.streams.gateway.othersLiveOn(serverId, principal.subject);
      await authorize(request, !controls ? 'console.view' : joining ? 'console.takeover' : 'console.control', serverId);
      const audit = (outcome: 'success' | 'failure', code?: string) =>
        app.audit.fromRequest(request, { action: joining ? 'session.join' : 'session.open', outcome, subject: principal.subject, tenant: principal.tenant, target: `server:${serverId}`, details: { kind: body.kind, mode: body.mode ?? null, ...(body.takeover === true ? { takeover: true } : {}), via: 'rpc', ...(code === undefined ? {} : { code }) } });
      try {
        const created = await app.streams.openSession(principal, serverId, body);
        await audit('success');
        return sessionMessage(created);
      } catch (error) {
        await audit('failure', error instanceof LightsoutError ? error.code : 'INTERNAL');
        throw error;
      }
    }),
  });

  router.service(BulkService, {
    submitBulk: unary(true, async (request, input) => {
      const selector = bulkSelectorJson(input.selector);
      const operation = bulkOperationJson(input.operation);
      // The service checks tenant, grants, role and step-up itself; this is the REST route's own early check.
      await authorize(request, bulkPermission(operation, input.dryRun));
      const accepted = await app.bulk.submit(request.principal!, { selector, operation, dryRun: input.dryRun }, { sourceIp: request.ip, correlationId: request.id });
      return create(SubmitBulkResponseSchema, { jobId: accepted.jobId ?? '', dryRun: accepted.dryRun, total: accepted.total, servers: (accepted.servers ?? []).map(bulkTargetMessage) });
    }),
    getBulkJob: unary(false, async (request, input) => {
      await authorize(request, 'servers.read');
      return bulkJobMessage(app.bulk.get(request.principal!, input.jobId));
    }),
  });

  // Server reflection (rpc/reflection.ts) for any signed-in caller: the API's shape, the same for every tenant.
  const served = [ServerService, PowerService, BootService, SensorService, EventLogService, SessionService, BulkService, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];
  const index = new ReflectionIndex(served);
  for (const [service, responseSchema] of [
    [reflectionV1.ServerReflection, reflectionV1.ServerReflectionResponseSchema],
    [reflectionV1alpha.ServerReflection, reflectionV1alpha.ServerReflectionResponseSchema],
  ] as const) {
    router.service(service as typeof reflectionV1.ServerReflection, {
      async *serverReflectionInfo(requests, context) {
        const request = context.values.get(FASTIFY_REQUEST);
        try {
          await begin(context, false);
          for await (const query of requests) {
            yield create(responseSchema as typeof reflectionV1.ServerReflectionResponseSchema, { validHost: query.host, originalRequest: query, messageResponse: index.answer(query.messageRequest) });
          }
        } catch (error) {
          throw toConnectError(error, request?.log ?? app.log);
        }
      },
    });
  }
}

function watchMessage(message: FeedMessage): WatchServersResponse | undefined {
  switch (message.type) {
    case 'servers':
      return create(WatchServersResponseSchema, { event: { case: 'snapshot', value: { servers: message.servers.map(serverMessage) } } });
    case 'server':
      return create(WatchServersResponseSchema, { event: { case: 'server', value: serverMessage(message.server) } });
    case 'server-removed':
      return create(WatchServersResponseSchema, { event: { case: 'removedServerId', value: message.id } });
    default:
      return undefined;
  }
}
