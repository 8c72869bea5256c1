import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  RecordingList,
  type RecordingListEntry,
  LightsoutError,
  STREAM_BEARER_PROTOCOL_PREFIX,
  SessionCreate,
  SessionCreated,
  StreamRoute,
  type StreamKind,
  type Role,
  type StreamMode,
  type StreamTokenClaims,
  ErrorBodySchema,
  StreamCloseCode,
  StreamTiming,
} from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import type { KeyDocuments } from '../../access/key-documents.js';
import { can } from '../../access/permissions.js';
import type { Principal } from '../../identity/verifier.js';
import type { StreamDependencies, StreamServer } from './dependencies.js';
import { StreamGateway, type GatewayHooks } from './gateway.js';
import { PendingLegs } from './legs.js';
import { registerSessionMetrics } from './metrics.js';
import { closeQuietly } from './splice.js';
import { StreamTokens, grantOf, grantedAtMs, spendConnectToken } from './tokens.js';
import { DownloadBudget, asciicastParts, rfbCaptureParts } from './recordings/formats.js';
import { type RecordingPolicy, loadRecordingPolicy } from './recordings/policy.js';
import { StreamRecorder } from './recordings/recorder.js';
import { DEFAULT_RECORDING_MAX_BYTES } from './recordings/appender.js';
import { DEFAULT_RECORDING_TENANT_MAX_BYTES, TenantRecordingUsage } from './recordings/tenant-usage.js';
import { registerRecordingPolicyRoutes } from './recordings/policy-routes.js';
import { StoredRecordingPolicies } from './recordings/stored-policies.js';
import { sweepExpiredRecordings } from './recordings/retention.js';
import { FileRecordingStorage, type RecordingMeta, type RecordingStorage } from './recordings/storage.js';
import { DatabaseRecordingStorage } from './recordings/database-storage.js';
import { recordingStorageOf } from '../../config/schema.js';

export type { StreamDependencies, StreamServer } from './dependencies.js';

export interface StreamsPluginOptions {
  dependencies: StreamDependencies;
  hooks?: GatewayHooks;
  /** Where console recordings go; default per the config (store.recordings): files under dataDir/recordings, or the store. */
  recordings?: RecordingStorage;
  recordingPolicy?: RecordingPolicy;
  /** How often recordings past their retention are deleted (default hourly). */
  retentionSweepMs?: number;
  /** `aud` of stream tokens; default `${deploymentUrl}/v1/streams`. */
  audience?: string;
  /** Where the stream signing keys live; default the relay's store (shared by every replica). */
  keyDocuments?: KeyDocuments;
}

declare module 'fastify' {
  interface FastifyInstance {
    streams: {
      tokens: StreamTokens;
      gateway: StreamGateway;
      legs: PendingLegs;
      recorder: StreamRecorder;
      openSession(caller: Principal, serverId: string, body: SessionCreate): Promise<SessionCreated>;
      agentConnectedHere(agentId: string): boolean;
      /** The server as the inventory knows it (tenant, agent, capabilities). */
      findServer(serverId: string): Promise<StreamServer | undefined>;
      /** What every endpoint taking a stream token checks besides the token: not revoked since it was issued, the server still the tenant's. */
      checkClaims(claims: StreamTokenClaims): Promise<void>;
      /** One more stream of an existing grant (a web session's next HTTP connection): a connect token and the gateway holding its agent. */
      issueLeg(claims: StreamTokenClaims): Promise<{ token: string; streamUrl: string; connectedHere: boolean }>;
    };
  }
}

const capabilityOf: Record<StreamKind, string> = { sol: 'sol', serial: 'serial', vnc: 'vnc', web: 'web' };

/** The token from `Sec-WebSocket-Protocol: lightsout.stream.v1, bearer.<jwt>` (browsers cannot set headers) or `?token=`. */
export function streamTokenOf(request: FastifyRequest): string {
  const offered = request.headers['sec-websocket-protocol'];
  if (typeof offered === 'string') {
    for (const protocol of offered.split(',')) {
      const trimmed = protocol.trim();
      if (trimmed.startsWith(STREAM_BEARER_PROTOCOL_PREFIX)) return trimmed.slice(STREAM_BEARER_PROTOCOL_PREFIX.length);
    }
  }
  // Any route may carry it, so the query is read as what it is: unknown until narrowed.
  const query: unknown = request.query;
  const token: unknown = typeof query === 'object' && query !== null ? Reflect.get(query, 'token') : undefined;
  if (typeof token === 'string') return token;
  throw new LightsoutError('UNAUTHENTICATED', 'stream token missing', { hint: 'create a session with POST /v1/servers/{id}/sessions' });
}

function bearerOf(request: FastifyRequest, what = 'agent token'): string {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw new LightsoutError('UNAUTHENTICATED', `${what} missing`);
  return header.slice('Bearer '.length);
}

/** The client endpoint of a session at a replica's public URL. */
export function streamUrlAt(replicaUrl: string, sessionId: string): string {
  return `${replicaUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/v1/streams/${sessionId}`;
}


/**
 * `takeover` ends another BMC session's hold on SOL (IPMI v2.0 §24.3, "already
 * active"): only SOL has such a hold, and only a session that may type takes
 * the console from whoever typed there.
 */
export function checkTakeover(kind: StreamKind, mode: StreamMode, takeover: boolean): void {
  if (!takeover) return;
  if (kind !== 'sol') throw new LightsoutError('BAD_REQUEST', `takeover applies to SOL consoles only, not ${kind}`);
  if (mode !== 'control') throw new LightsoutError('BAD_REQUEST', 'takeover needs a control session (mode "control"): a read-only view takes nothing over', { hint: 'ask for mode "control" (a viewer role cannot take a console over)' });
}

/** The mode a session asks for: what the body says, else what the role is for (viewers watch, the others type). */
export function sessionMode(body: SessionCreate | undefined, role: Role): StreamMode {
  return body?.mode ?? (role === 'viewer' ? 'view' : 'control');
}

const SessionParams = Type.Object({ sessionId: Type.String({ maxLength: 64 }) });

/**
 * The stream plane's relay side (docs/streams.md): session creation, the
 * gateway's client and agent WebSocket endpoints, and the JWKS a separate
 * gateway would verify tokens with.
 */
async function streamsPlugin(app: FastifyInstance, options: StreamsPluginOptions): Promise<void> {
  const { dependencies } = options;
  const tokens = await StreamTokens.load({
    documents: options.keyDocuments ?? app.keyDocuments,
    // Key files of a single-process install from before the store held them are imported once.
    dataDir: app.config.dataDir,
    // One issuer and audience for the deployment: a stream token (a resume token above all) is valid on every gateway.
    issuer: app.config.deploymentUrl,
    audience: options.audience ?? `${app.config.deploymentUrl}/v1/streams`,
  });
  // Another replica's rotation is picked up within a minute (and at once for a token signed with the new key).
  const stopKeyRefresh = tokens.refreshKeysEvery(60_000, (error) => app.log.warn({ err: error }, 'could not re-read the stream signing keys; verifying with the ones held'));
  app.addHook('onClose', async () => stopKeyRefresh());
  const legs = new PendingLegs();
  // Files under this replica's dataDir, or the store every replica of the deployment reads (docs/deployment.md, Shared state).
  const recordingMaxBytes = app.config.store.recordingMaxBytes ?? DEFAULT_RECORDING_MAX_BYTES;
  const unreadableMeta = (id: string, error: Error) => app.log.warn({ err: error, recordingId: id }, 'recording skipped: its meta cannot be read');
  const recordings =
    options.recordings ??
    (recordingStorageOf(app.config) === 'database'
      ? new DatabaseRecordingStorage(app.store, Date.now, recordingMaxBytes, unreadableMeta)
      : new FileRecordingStorage(join(app.config.dataDir, 'recordings'), { maxBytes: recordingMaxBytes, onUnreadableMeta: unreadableMeta }));
  // The deployment's file gives the defaults; a tenant's rules set through the API (kept in the store, read by every replica) replace its entry.
  const storedPolicies = app.hasDecorator('store') ? new StoredRecordingPolicies(app.store, app.hasDecorator('cluster') ? app.cluster.bus : undefined) : undefined;
  const policy = options.recordingPolicy ?? loadRecordingPolicy(app.config.dataDir, storedPolicies?.rulesOf);
  if (storedPolicies) {
    await storedPolicies.start();
    // Catches a change whose bus notice was lost (delivery is at most once).
    const policyRefresh = setInterval(() => void storedPolicies.reload().catch((error: unknown) => app.log.warn({ err: error }, 'could not re-read the tenants\' recording policies')), 60_000).unref();
    app.addHook('onClose', async () => {
      clearInterval(policyRefresh);
      storedPolicies.stop();
    });
    registerRecordingPolicyRoutes(app, storedPolicies, policy);
  }
  const downloads = new DownloadBudget(recordingMaxBytes);
  const tenantUsage = new TenantRecordingUsage(recordings, app.config.store.recordingTenantMaxBytes ?? DEFAULT_RECORDING_TENANT_MAX_BYTES);
  const recorder = new StreamRecorder(
    recordings,
    policy.records,
    (error, sessionId) => app.log.warn({ err: error, sessionId }, 'recording failed: the session goes on unrecorded'),
    tenantUsage,
  );
  // What each tenant holds: read at start, after each retention sweep, and every 5 minutes (other replicas' writes, deletions).
  const rescanUsage = async (): Promise<void> => {
    try {
      await tenantUsage.rescan();
    } catch (error) {
      app.log.warn({ err: error }, "could not read what the tenants' recordings hold; counting on from the last reading");
    }
  };
  const usageTimer = setInterval(() => void rescanUsage(), 300_000).unref();
  app.addHook('onClose', async () => clearInterval(usageTimer));
  // Retention: at start, then hourly (a day-granular policy needs no finer clock).
  const sweepRecordings = async (): Promise<void> => {
    let expired: Awaited<ReturnType<typeof sweepExpiredRecordings>>;
    try {
      // The sweep deletes on the tenants' word: it reads their current rules first.
      await storedPolicies?.reload();
      expired = await sweepExpiredRecordings(recordings, policy.retentionDays, (id) => recorder.isRecording(id), Date.now());
    } catch (error) {
      return app.log.warn({ err: error }, 'recording retention sweep failed; retrying at the next one');
    }
    for (const { meta, lastWrittenAt } of expired) {
      app.log.info({ recording: meta.id, tenant: meta.tenant, serverId: meta.serverId }, 'recording past its retention deleted');
      if (app.hasDecorator('audit')) {
        void app.audit.append({
          action: 'recording.expire',
          outcome: 'success',
          tenant: meta.tenant,
          target: `recording:${meta.id}`,
          details: { serverId: meta.serverId, kind: meta.kind, lastWrittenAt: new Date(lastWrittenAt).toISOString() },
        });
      }
    }
  };
  const retentionTimer = setInterval(() => void sweepRecordings().then(rescanUsage), options.retentionSweepMs ?? 3_600_000).unref();
  app.addHook('onReady', async () => {
    await sweepRecordings();
    await rescanUsage();
  });
  app.addHook('onClose', async () => clearInterval(retentionTimer));
  // The tree's "active sessions" badge counts live legs per server (app.serverActivity, when the relay has the inventory).
  const activity = app.hasDecorator('serverActivity') ? app.serverActivity : undefined;
  const onSpliced = options.hooks?.onSpliced ?? ((claims: StreamTokenClaims) => recorder.hooksFor(claims));
  // Ending someone else's SOL is audited when the agent has done it, not when it was asked for (session.open says that).
  const onTookOver =
    options.hooks?.onTookOver ??
    ((claims: StreamTokenClaims) => {
      app.log.warn({ sessionId: claims.sid, serverId: claims.srv, user: claims.usr }, 'SOL taken over from another BMC session');
      if (!app.hasDecorator('audit')) return;
      void app.audit
        .append({ action: 'sol.takeover', outcome: 'success', subject: claims.sub, tenant: claims.ten, target: `server:${claims.srv}`, details: { sessionId: claims.sid, user: claims.usr } })
        .catch((error: unknown) => app.log.error({ err: error, sessionId: claims.sid }, 'could not audit a SOL takeover'));
    });
  const bytes = app.hasDecorator('metrics') ? { to_client: app.metrics.streamBytes.labels({ gateway: app.metrics.gateway, direction: 'to_client' }), to_agent: app.metrics.streamBytes.labels({ gateway: app.metrics.gateway, direction: 'to_agent' }) } : undefined;
  const gateway = new StreamGateway(tokens, legs, dependencies, app.log, {
    onTookOver,
    ...(activity ? { othersLiveElsewhere: (serverId: string, subject: string) => activity.heldElsewhere(serverId, subject) } : {}),
    ...(bytes === undefined ? {} : { onForwarded: (direction: 'to_client' | 'to_agent', length: number) => bytes[direction].inc(length) }),
    onSpliced: (claims) => {
      const observer = onSpliced(claims);
      if (!activity) return observer;
      // A web UI's streams are nobody's console (othersLiveOn): they count on the badge, and hold nothing.
      const holder = claims.knd === 'web' ? undefined : claims.sub;
      // The server's page lists every leg, web UI streams too: someone is on its BMC's web interface.
      const leg = { user: claims.usr, kind: claims.knd, mode: claims.mod, since: new Date().toISOString() };
      activity.sessionStarted(claims.srv, holder, leg);
      return {
        ...observer,
        end: () => {
          observer?.end?.();
          activity.sessionEnded(claims.srv, holder, leg);
        },
      };
    },
  });
  if (app.hasDecorator('metrics')) registerSessionMetrics(app.metrics.registry, app.metrics.gateway, gateway, app.hasDecorator('tenantLabels') ? app.tenantLabels : undefined);
  // A console learns at once when its agent's control connection lapses or comes back (the path to the BMC).
  const unwatchPresence = dependencies.watchAgentPresence?.((agentId, online) => gateway.agentPresence(agentId, online));
  app.addHook('onClose', async () => unwatchPresence?.());
  // Where a session's agent is: the gateway holding its control connection, anywhere in the deployment.
  // (A plugin given a hand-made config, as the test chains do, may lack deploymentUrl: it is its own deployment.)
  const deploymentUrl = (app.config.deploymentUrl as string | undefined) ?? app.config.publicUrl;
  const connectedHere = (agentId: string): boolean | undefined => dependencies.agentConnectedHere?.(agentId) ?? dependencies.agentOnline?.(agentId);
  const gatewayUrlOf = dependencies.gatewayUrlOf ?? (async (agentId: string) => (connectedHere(agentId) === false ? undefined : app.config.publicUrl));
  /** A stream token as every endpoint that takes one checks it: signature and session, not revoked since, server still the tenant's. */
  const checkStreamToken = async (token: string, sessionId: string): Promise<StreamTokenClaims> => {
    const claims = await tokens.verify(token, sessionId);
    await checkClaims(claims);
    return claims;
  };
  async function checkClaims(claims: StreamTokenClaims): Promise<void> {
    // A resume token issued before its holder was revoked must not bring the session back.
    // The session's grant time, not this token's: each resume signs a new token, and a chain of them must not outrun a revocation.
    if (app.hasDecorator('revocations') && app.revocations.revokedSince(claims.sub, grantedAtMs(claims))) throw new LightsoutError('FORBIDDEN', 'access was revoked');
    // Nor one for a server that has since moved to another tenant: the store says where it is now (every replica agrees).
    const server = await dependencies.findServer(claims.srv);
    if (server?.tenant !== claims.ten) throw new LightsoutError('NOT_FOUND', `no server ${claims.srv}`);
  }
  async function issueLeg(claims: StreamTokenClaims): Promise<{ token: string; streamUrl: string; connectedHere: boolean }> {
    const sessionId = randomBytes(16).toString('base64url');
    const { token } = await tokens.issue({ ...grantOf(claims), sessionId }, 'connect');
    const here = connectedHere(claims.agt) !== false;
    const gatewayUrl = here ? app.config.publicUrl : await gatewayUrlOf(claims.agt);
    if (gatewayUrl === undefined) throw new LightsoutError('AGENT_OFFLINE', `the agent of ${claims.srv} is connected to no gateway`, { hint: 'try again when the agent is back' });
    return { token, streamUrl: streamUrlAt(gatewayUrl, sessionId), connectedHere: here };
  }
  /**
   * A console session for a caller whose permission was already checked
   * (the access hook for the REST route; the SSH front door itself): the
   * server must be the caller's tenant's and have that kind of console.
   */
  async function openSession(caller: Principal, serverId: string, body: SessionCreate): Promise<SessionCreated> {
    const server = await dependencies.findServer(serverId);
    // Another tenant's server is answered exactly like a missing one; provider admins see every tenant (as in the inventory).
    if (!server || (server.tenant !== caller.tenant && caller.role !== 'provider-admin')) throw new LightsoutError('NOT_FOUND', `no server ${serverId}`);
    const { kind } = body;
    if (!server.capabilities.includes(capabilityOf[kind])) {
      throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no ${kind} console`, { hint: 'add the endpoint to the agent configuration' });
    }
    const mode = sessionMode(body, caller.role);
    const takeover = body.takeover === true;
    checkTakeover(kind, mode, takeover);
    const sessionId = randomBytes(16).toString('base64url');
    const { token, expiresAt } = await tokens.issue(
      { sessionId, serverId: server.id, tenant: server.tenant, kind, mode, agentId: server.agentId, subject: caller.subject, user: caller.username, ...(takeover ? { takeover } : {}) },
      'connect',
    );
    // The gateway holding the agent now. An agent connected nowhere: a replica that splices streams hands out its
    // own URL (the connection then says 4503 and the client asks the route); a manager splices none and says so.
    let gatewayUrl = await gatewayUrlOf(server.agentId);
    if (gatewayUrl === undefined && app.config.role === 'manager') throw new LightsoutError('AGENT_OFFLINE', `the agent of ${server.id} is connected to no gateway`, { hint: 'check the agent and its connection to a gateway of its region' });
    gatewayUrl ??= app.config.publicUrl;
    return {
      sessionId,
      streamUrl: streamUrlAt(gatewayUrl, sessionId),
      // Asked at the deployment's one URL (the manager, or the load balancer in front of the replicas).
      routeUrl: `${deploymentUrl}/v1/streams/${sessionId}/route`,
      token,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
      serverId: server.id,
      kind,
      mode,
    };
  }
  app.decorate('streams', { tokens, gateway, legs, recorder, openSession, agentConnectedHere: (agentId: string) => connectedHere(agentId) !== false, findServer: (serverId: string) => dependencies.findServer(serverId), checkClaims, issueLeg });
  const claimsOf = new WeakMap<FastifyRequest, StreamTokenClaims>();
  const agentOf = new WeakMap<FastifyRequest, string>();

  // Routes declared through the TypeBox provider: params, query and body are typed from the schemas they validate.
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post(
    '/v1/servers/:id/sessions',
    {
      // Watching needs console.view; typing console.control; typing into a console someone else has live takes it over.
      config: {
        permission: {
          least: 'console.view',
          of: (request: FastifyRequest<{ Params: { id: string }; Body: SessionCreate }>, principal: Principal) => {
            // The BMC's web UI can do anything the BMC can: there is no read-only way into it, nor anyone's console to take over.
            if (request.body?.kind === 'web') return 'console.control';
            if (sessionMode(request.body, principal.role) === 'view') return 'console.view';
            return gateway.othersLiveOn(request.params.id, principal.subject) ? 'console.takeover' : 'console.control';
          },
        },
      },
      schema: {
        tags: ['streams'],
        summary: 'Open a console session (SOL, serial or VNC) on a server, or its BMC\'s own web UI (kind web: answers a one-time launch URL)',
        params: Type.Object({ id: Type.String({ maxLength: 63 }) }),
        body: SessionCreate,
        response: { 201: SessionCreated, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request, reply) => {
      if (request.body.kind === 'web') {
        if (!app.hasDecorator('webUi')) throw new LightsoutError('BMC_UNSUPPORTED', 'this relay serves no BMC web UIs', { hint: 'set webUi.domain and webUi.port in the relay configuration (docs/operations.md)' });
        const created = await app.webUi.open(request.principal!, request.params.id, request.body);
        request.log.info({ webSession: created.sessionId, serverId: created.serverId, user: request.principal!.username }, 'web UI session created');
        return reply.code(201).send(created);
      }
      const created = await openSession(request.principal!, request.params.id, request.body);
      request.log.info({ sessionId: created.sessionId, serverId: created.serverId, kind: created.kind, mode: created.mode, user: request.principal!.username }, 'console session created');
      return reply.code(201).send(created);
    },
  );

  /**
   * Recordings hold what was typed, passwords included. A recording is
   * visible to its own tenant (provider admins: every tenant), on a server
   * the caller's grants include; then `recordings.read` (tenant admins) reads
   * them all and everyone else only the sessions they opened. Anything else
   * is NOT_FOUND, like a missing one.
   */
  const visible = async (meta: RecordingMeta | undefined, caller: Principal): Promise<boolean> => {
    if (meta === undefined || (meta.tenant !== caller.tenant && caller.role !== 'provider-admin')) return false;
    if (!can(caller.role, 'recordings.read') && meta.subject !== caller.subject) return false;
    return dependencies.grantsAllow === undefined || (await dependencies.grantsAllow(caller, meta.serverId));
  };
  api.get('/v1/recordings', { config: { permission: 'recordings.read-own' }, schema: { tags: ['streams'], summary: 'Console recordings you may replay', response: { 200: RecordingList } } }, async (request) => {
    const caller = request.principal!;
    const listed: RecordingListEntry[] = [];
    for (const meta of await recordings.list()) {
      if (!(await visible(meta, caller))) continue;
      const [bytes, lastWrittenAt] = await Promise.all([recordings.size(meta.id), recordings.lastWrittenAt(meta.id)]);
      listed.push({ ...meta, ...(bytes === undefined ? {} : { bytes }), ...(lastWrittenAt === undefined ? {} : { lastWrittenAt: Math.floor(lastWrittenAt) }) });
    }
    return { recordings: listed };
  });
  api.get(
    '/v1/recordings/:id',
    { config: { permission: 'recordings.read-own' }, schema: { tags: ['streams'], summary: 'Download a recording: asciicast v2 (SOL, serial) or RFB capture (VNC)', params: Type.Object({ id: Type.String({ maxLength: 64 }) }) } },
    async (request, reply) => {
      const meta = await recordings.get(request.params.id);
      if (!meta || !(await visible(meta, request.principal!))) throw new LightsoutError('NOT_FOUND', `no recording ${request.params.id}`);
      // A download reads the recording's bytes whole (then renders them as the response drains): a larger
      // recording (stored before the limit, or under a larger one) would take memory every console shares,
      // and past 2 GiB fail untyped. Its size is known without reading it.
      const size = (await recordings.size(meta.id)) ?? 0;
      if (size > recordingMaxBytes) {
        throw new LightsoutError('PAYLOAD_TOO_LARGE', `recording ${meta.id} holds ${size} bytes; a download renders at most ${recordingMaxBytes}`, {
          hint: 'a relay with a larger store.recordingMaxBytes downloads it (it holds the recording in memory while rendering it)',
          details: { recording: meta.id, bytes: size, maxBytes: recordingMaxBytes },
        });
      }
      // Downloads at once hold at most recordingMaxBytes between them: ten of 1 GiB would take 10 GiB.
      const release = downloads.take(size);
      if (!release) {
        throw new LightsoutError('RATE_LIMITED', `other downloads hold ${recordingMaxBytes} bytes of recordings in memory; recording ${meta.id} (${size} bytes) waits for them`, {
          hint: 'try again in a few seconds',
          details: { recording: meta.id, bytes: size, retryAfterSeconds: 5 },
        });
      }
      let data: Awaited<ReturnType<RecordingStorage['read']>>;
      try {
        data = await recordings.read(meta.id);
      } catch (error) {
        release();
        throw error;
      }
      if (!data) {
        release();
        throw new LightsoutError('NOT_FOUND', `no recording ${request.params.id}`);
      }
      // Held until the response is done with the bytes: sent whole, or the client gone.
      reply.raw.once('close', release);
      // A recording holds what was typed, passwords included: who took a copy is audited, as an audit export is.
      if (app.hasDecorator('audit')) {
        void app.audit
          .append({ action: 'recording.download', outcome: 'success', subject: request.principal!.subject, tenant: meta.tenant, target: `recording:${meta.id}`, details: { serverId: meta.serverId, kind: meta.kind, sessionId: meta.sessionId } })
          .catch((error: unknown) => app.log.error({ err: error, recordingId: meta.id }, 'could not audit a recording download'));
      }
      const { bytes, times } = data;
      if (meta.kind === 'vnc') return reply.type('application/octet-stream').send(Readable.from(rfbCaptureParts(meta, bytes, times)));
      return reply.type('application/x-asciicast').send(Readable.from(asciicastParts(meta, bytes, times)));
    },
  );

  api.get('/v1/gateway/jwks.json', { config: { permission: 'public' }, schema: { tags: ['streams'], summary: 'Public keys stream tokens are signed with' } }, async () => tokens.jwks);

  api.get(
    '/v1/streams/:sessionId',
    {
      websocket: true,
      config: { permission: 'stream-token' },
      schema: { params: SessionParams },
      preValidation: async (request) => {
        const claims = await checkStreamToken(streamTokenOf(request), request.params.sessionId);
        await spendConnectToken(dependencies.singleUse, claims);
        claimsOf.set(request, claims);
      },
    },
    (socket, request) => {
      const claims = claimsOf.get(request);
      if (!claims) return closeQuietly(socket, StreamCloseCode.UNAUTHENTICATED, 'unauthenticated');
      void gateway.attachClient(socket, claims);
    },
  );

  /**
   * Where a session's agent is connected now, asked by a client whose gateway
   * went away: any replica answers from the store, with the session's own
   * stream token (checked like a connection, never spent), so following the
   * agent to another gateway needs no user login.
   */
  api.get(
    '/v1/streams/:sessionId/route',
    {
      config: { permission: 'stream-token' },
      schema: {
        tags: ['streams'],
        summary: "The stream URL of the gateway holding a session's agent now",
        params: SessionParams,
        response: { 200: StreamRoute, '4xx': ErrorBodySchema, '5xx': ErrorBodySchema },
      },
    },
    async (request) => {
      const claims = await checkStreamToken(bearerOf(request, 'stream token'), request.params.sessionId);
      const gatewayUrl = await gatewayUrlOf(claims.agt);
      if (gatewayUrl === undefined) throw new LightsoutError('AGENT_OFFLINE', 'the agent of this session is connected to no gateway now', { hint: 'ask again: an agent fails over within seconds' });
      return { streamUrl: streamUrlAt(gatewayUrl, claims.sid) };
    },
  );

  api.get(
    '/v1/agent/streams/:sessionId',
    {
      websocket: true,
      config: { permission: 'agent-token' },
      schema: { params: SessionParams, querystring: Type.Object({ leg: Type.String({ maxLength: 64 }) }) },
      preValidation: async (request) => {
        const agentId = await dependencies.verifyAgentToken(bearerOf(request));
        legs.authorize(request.query.leg, agentId, request.params.sessionId);
        agentOf.set(request, agentId);
      },
    },
    (socket, request) => {
      const agentId = agentOf.get(request);
      if (agentId === undefined || !legs.deliver(request.query.leg, agentId, socket)) closeQuietly(socket, StreamCloseCode.NOT_FOUND, 'no such leg');
    },
  );

  app.addHook('preClose', async () => gateway.closeAll());
  // Revocations end live legs on this relay the moment it hears them (docs/security.md "What ends what").
  if (app.hasDecorator('revocations')) {
    const unsubscribe = app.revocations.subscribe((notice) => {
      if (notice.kind === 'subject') {
        const closed = gateway.closeSubject(notice.subject, 'access revoked', notice.at);
        if (closed > 0) app.log.info({ subject: notice.subject, reason: notice.reason, closed }, 'revocation ended live console legs');
        return;
      }
      const closed = gateway.closeServer(notice.serverId, notice.to, 'the server moved to another tenant');
      if (closed > 0) app.log.info({ serverId: notice.serverId, from: notice.from, to: notice.to, closed }, 'tenant move ended live console legs');
      void tellAgent(notice.serverId, notice.agentId, notice.to);
    });
    app.addHook('onClose', async () => unsubscribe());
  }

  /** The relay holding the agent's control connection tells it (the others get AGENT_OFFLINE and leave it). */
  async function tellAgent(serverId: string, agentId: string, tenant: string): Promise<void> {
    try {
      const { sessionsEnded } = await dependencies.requestAgent(agentId, 'server.assign', { serverId, tenant }, StreamTiming.dialBackTimeoutMs);
      app.log.info({ serverId, tenant, sessionsEnded }, 'agent told of the tenant move');
    } catch (error) {
      // Offline here: the agent hears it in the inventory-ack of its next connection, wherever it connects.
      if (error instanceof LightsoutError && error.code === 'AGENT_OFFLINE') return;
      app.log.warn({ err: error, serverId, agentId }, 'could not tell the agent of a tenant move; it hears it at its next connection');
    }
  }
}

export default fp(streamsPlugin, { name: 'lightsout-streams', dependencies: ['lightsout-config'] });
