import { createReadStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import {
  ErrorBodySchema,
  LightsoutError,
  MEDIA_UPLOADS_PATH,
  MediaImageList,
  MediaMountRequest,
  MediaState,
  MediaUrlPolicy,
  MediaUrlPolicyView,
  UPLOAD_ID_PATTERN,
  mediaUrlPolicyEntryError,
} from '@lightsout/shared';
import { MemoryLocker } from '@tus/server';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Metadata } from '@tus/utils';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { MediaCaller, MediaDependencies, MediaServerInfo } from './dependencies.js';
import { AtomicFileConfigstore } from './atomic-configstore.js';
import { HashingFileStore } from './hashing-store.js';
import { readGrowingFile } from './growing-file.js';
import { MediaJobs, type MountSource } from './jobs.js';
import { jsonErrorBodies } from '../errors.js';
import { targetTenant } from '../../access/guards.js';
import { SharedMediaJobs } from '../../inventory/live-status.js';
import { handlePatch } from './patch.js';
import { type UploadCaller, type UploadRecord, createUploadServer, displayName, emptyUpload, findUpload, listUploads, tenantUsage, uploadIdOf } from './uploads.js';
import { AgentLegs } from './agent-legs.js';
import { type AgentUploadContext, createAgentUpload, deleteAgentUpload, headAgentUpload, patchAgentUpload } from './agent-patch.js';
import { type AgentUploadRow, recordOfRow } from './agent-uploads.js';
import { logFailuresTo, sendRefusal, tusHeaders } from './patch.js';
import { handleHead } from './head.js';
import { KeyedMutex } from './keyed-mutex.js';
import { drainRest } from './drain.js';

export type { MediaCaller, MediaDependencies, MediaServerInfo } from './dependencies.js';

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Virtual media on the relay (docs/virtual-media.md): the tus upload
 * endpoint, the one-action mount/eject/status routes per server, and the
 * route agents pull image bytes from. Encapsulated (not fastify-plugin): the
 * raw-body content type parser must not leak to other routes.
 */
export interface MediaPluginOptions {
  dependencies: MediaDependencies;
  /** Where uploads are stored; default `${dataDir}/media`. */
  directory?: string;
  maxUploadBytes?: number;
  tenantQuotaBytes?: number;
  /** Incomplete uploads older than this are deleted. */
  incompleteTtlMs?: number;
  /** How often expired incomplete uploads are looked for; default 15 min. */
  sweepIntervalMs?: number;
  pollIntervalMs?: number;
  stallTimeoutMs?: number;
  mountTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Receives mount and eject for callers outside this encapsulated scope (the MCP tools). */
  expose?: (actions: MediaActions) => void;
}

/** Mount and eject as the routes run them; the request carries the caller (authorised already) and the audit origin. */
export interface MediaActions {
  mount(request: FastifyRequest, serverId: string, body: MediaMountRequest): Promise<MediaState>;
  eject(request: FastifyRequest, serverId: string): Promise<MediaState>;
}

declare module 'fastify' {
  interface FastifyInstance {
    media: { jobs: MediaJobs; store: HashingFileStore };
    /** Mount and eject, published by the media plugin (app.ts) for the MCP tools. */
    mediaActions: MediaActions;
  }
}

const ServerParams = Type.Object({ id: Type.String({ maxLength: 63 }) });
const UploadParams = Type.Object({ uploadId: Type.String({ pattern: UPLOAD_ID_PATTERN }) });
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 501: ErrorBodySchema, 503: ErrorBodySchema };

export default async function mediaPlugin(app: FastifyInstance, options: MediaPluginOptions): Promise<void> {
  const { dependencies } = options;
  // Routes declared through the TypeBox provider: params, query and body are typed from the schemas they validate.
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const directory = options.directory ?? join(app.config.dataDir, 'media');
  const store = new HashingFileStore({ directory, configstore: new AtomicFileConfigstore(directory), expirationPeriodInMilliseconds: options.incompleteTtlMs ?? 24 * 3600_000 });
  const liveStatus = app.hasDecorator('serverLiveStatus') ? app.serverLiveStatus : undefined;
  const jobs = new MediaJobs({
    dependencies,
    log: app.log,
    // The tree's badge: an image counts as mounted once the agent reports the mount, until the eject has finished.
    // Kept with the server (every replica shows it), not in this replica's jobs.
    ...(liveStatus
      ? {
          onState: (state: MediaState) =>
            void liveStatus
              .setMedia(state.serverId, state.image && state.mountedAt !== null ? { filename: state.image.filename, since: state.mountedAt, by: state.mountedBy } : null)
              .catch((error: unknown) => app.log.warn({ err: error, serverId: state.serverId }, 'could not store the media badge')),
        }
      : {}),
    // each step's end is seen by polling the agent: a short interval is latency off every mount (a status call is one small control message)
    pollIntervalMs: options.pollIntervalMs ?? 100,
    stallTimeoutMs: options.stallTimeoutMs ?? 120_000,
    mountTimeoutMs: options.mountTimeoutMs ?? 15 * 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    // the jobs of every replica, in the servers' rows (kept by the same service as the badge above)
    ...(liveStatus ? { shared: new SharedMediaJobs(app.store) } : {}),
    uploadState: async (uploadId) => {
      const row = await dependencies.uploads?.find(uploadId);
      if (row) return { verified: row.verified === 1, offset: row.verified === 1 ? row.size : 0 };
      const record = await findUpload(store, uploadId);
      return record ? { verified: record.verified, offset: record.offset } : undefined;
    },
  });
  app.decorate('media', { jobs, store });
  // A bulk job's eject (the service has already resolved the server in the caller's tenant and grants).
  if (app.hasDecorator('bulk')) {
    app.bulk.registerHandler('media.eject', async (serverId) => {
      const server = await dependencies.findServer(serverId);
      if (!server) throw new LightsoutError('NOT_FOUND', `no server ${serverId}`);
      if (!server.endpoints.redfish || !server.capabilities.includes('media')) throw new LightsoutError('BMC_UNSUPPORTED', `virtual media needs Redfish on the BMC of ${serverId}`);
      return jobs.eject(server);
    });
  }
  app.addHook('onClose', async () => jobs.stop());

  // Revocations (docs/security.md "What ends what"): a revoked caller's uploads in progress stop; a server
  // that changed tenant loses the old tenant's image. Every relay hears both; the one holding the agent ejects.
  if (app.hasDecorator('revocations')) {
    const unsubscribe = app.revocations.subscribe((notice) => {
      if (notice.kind === 'subject') {
        for (const upload of patching.get(notice.subject) ?? []) upload.abort();
        return;
      }
      jobs.release({ id: notice.serverId, agentId: notice.agentId }).then(
        ({ ejected }) => {
          if (!ejected || !app.hasDecorator('audit')) return;
          app.log.info({ serverId: notice.serverId, from: notice.from, to: notice.to, sha256: ejected.sha256 }, 'previous tenant\'s virtual media ejected after a tenant move');
          void app.audit.append({
            action: 'media.eject',
            outcome: 'success',
            subject: notice.by,
            tenant: notice.from,
            target: `server:${notice.serverId}`,
            details: { reason: 'server moved to another tenant', to: notice.to, filename: ejected.filename, sha256: ejected.sha256, mountedBy: ejected.mountedBy },
          });
        },
        (error: unknown) => {
          // Offline here: another relay may hold the agent; otherwise status and mount retry the eject first.
          if (error instanceof LightsoutError && error.code === 'AGENT_OFFLINE') return;
          app.log.warn({ err: error, serverId: notice.serverId }, 'could not eject the previous tenant\'s media; retried before the next status or mount');
        },
      );
    });
    app.addHook('onClose', async () => unsubscribe());
  }

  const callers = new WeakMap<IncomingMessage, UploadCaller>();
  const locker = new MemoryLocker();
  const uploadBytes = app.hasDecorator('metrics') ? app.metrics.uploadBytes.labels({ gateway: app.metrics.gateway }) : undefined;
  const onBytes = (bytes: number) => uploadBytes?.inc(bytes);
  const onVerified = (record: UploadRecord) => app.log.info({ uploadId: record.id, tenant: record.tenant, size: record.size, sha256: record.sha256 }, 'media upload verified');
  const maxUploadBytes = options.maxUploadBytes ?? 16 * 1024 ** 3;
  const tenantQuotaBytes = options.tenantQuotaBytes ?? 64 * 1024 ** 3;
  const expirationMs = options.incompleteTtlMs ?? 24 * 3600_000;
  /** Bytes a tenant holds or has reserved in agents' caches (its uploads in the relay's file store are counted by uploads.ts). */
  const usedElsewhereOf = async (tenant: string) => ((await dependencies.uploads?.ofTenant(tenant)) ?? []).reduce((total, row) => total + row.size, 0);
  /** Creations of one tenant's uploads, one at a time: the quota's room is read and taken in one step (keyed-mutex.ts). */
  const creations = new KeyedMutex();
  const tus = createUploadServer({
    store,
    locker,
    creations,
    maxUploadBytes,
    tenantQuotaBytes,
    usedElsewhereOf,
    callerOf: (request) => callers.get(request),
    onVerified,
  });
  const legs = new AgentLegs();
  app.addHook('onClose', async () => legs.closeAll());
  const agentUploads: AgentUploadContext | undefined = dependencies.uploads
    ? {
        rows: dependencies.uploads,
        legs,
        proofs: new Map(),
        locker,
        requestAgent: dependencies.requestAgent,
        connectedHere: (agentId) => dependencies.agentConnectedHere?.(agentId) ?? false,
        gatewayUrlOf: dependencies.gatewayUrlOf ?? (async () => undefined),
        ownUrl: app.config.publicUrl,
        expirationMs,
        onVerified,
        onBytes,
      }
    : undefined;
  /** The agent-backed upload `id` as the caller may see it (another tenant's does not exist for them). */
  const agentUploadFor = async (id: string | undefined, tenant: string): Promise<AgentUploadRow | undefined> => {
    if (!id || !agentUploads) return undefined;
    const row = await agentUploads.rows.find(id);
    if (row && row.tenant_id !== tenant) throw new LightsoutError('NOT_FOUND', 'no such upload');
    return row;
  };

  /**
   * The agent of an upload the relay no longer has drops its partial file now, not when its own 24 h rule
   * would (docs/virtual-media.md). An agent offline everywhere still applies that rule.
   */
  const discardInAgent = (row: Pick<AgentUploadRow, 'id' | 'agent_id'>) =>
    void dependencies.requestAgent(row.agent_id, 'media.discard', { pullPath: `/v1/agent/media/${row.id}` }, options.requestTimeoutMs ?? 15_000).then(
      ({ discarded }) => app.log.info({ uploadId: row.id, agentId: row.agent_id, discarded }, 'the agent dropped what it kept of an upload the relay no longer has'),
      (error: unknown) => app.log.info({ uploadId: row.id, agentId: row.agent_id, err: error }, 'could not tell the agent an upload is gone; it drops the file 24 h after its last write'),
    );
  // unfinished uploads past their expiry free their quota (tus expiration extension)
  const sweeper = setInterval(() => {
    Promise.all([tus.cleanUpExpiredUploads(), agentUploads?.rows.removeUnfinishedBefore(Date.now() - expirationMs) ?? []]).then(
      ([files, rows]) => {
        if (files + rows.length > 0) app.log.info({ removed: files + rows.length }, 'expired media uploads removed');
        rows.forEach(discardInAgent);
      },
      (error: unknown) => app.log.warn({ err: error }, 'could not remove expired media uploads'),
    );
  }, options.sweepIntervalMs ?? 15 * 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));

  /** The caller the access hook authenticated (every route below declares its permission). */
  const caller = (request: FastifyRequest): MediaCaller => request.principal!;

  /**
   * The server, if the caller's tenant owns it and their grants reach it: a server of another tenant, or one
   * outside the caller's grants, does not exist for them (an upload names its server in tus metadata, which
   * no `/v1/servers/{id}` route check sees).
   */
  async function serverFor(serverId: string, who: MediaCaller): Promise<MediaServerInfo> {
    const server = await dependencies.findServer(serverId);
    if (!server || (server.tenant !== who.tenant && who.role !== 'provider-admin')) throw new LightsoutError('NOT_FOUND', `no server ${serverId}`);
    if (dependencies.serverVisible !== undefined && !(await dependencies.serverVisible(who, serverId))) throw new LightsoutError('NOT_FOUND', `no server ${serverId}`);
    if (!server.endpoints.redfish || !server.capabilities.includes('media')) {
      throw new LightsoutError('BMC_UNSUPPORTED', `virtual media needs Redfish on the BMC of ${serverId}, which is reachable over ${server.endpoints.ipmi ? 'IPMI' : 'other protocols'} only`, {
        hint: 'configure a redfish endpoint for this server on its agent; IPMI has no virtual media',
      });
    }
    return server;
  }

  // ── tus uploads ─────────────────────────────────────────────────────────
  // tus bodies are raw bytes streamed to disk (patch.ts): never parsed or buffered here.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));
  // A refusal before the route (401, 403, 429) leaves the body unread: Node would read all of it; we read a bounded amount (drain.ts).
  app.addHook('onResponse', async (request) => drainRest(request.raw));
  /**
   * tus creation with `server` in Upload-Metadata: the upload goes into that
   * server's agent. Without it, only the single process keeps uploads (its
   * file store); a replica of a regional deployment has nowhere to keep them.
   * Returns false when the relay's file store takes the upload.
   */
  async function createForServer(request: FastifyRequest, reply: FastifyReply, uploadCaller: UploadCaller): Promise<boolean> {
    let metadata: Record<string, string | null> = {};
    try {
      // No Upload-Metadata at all names no server: the file store takes it (and says what else is wrong with it).
      const header = request.headers['upload-metadata'];
      if (header !== undefined) metadata = Metadata.parse(header as string);
    } catch {
      throw new LightsoutError('VALIDATION_FAILED', 'Upload-Metadata is malformed (tus: comma-separated "key base64value")');
    }
    const serverId = metadata.server ?? undefined;
    if (serverId === undefined || !agentUploads) {
      if (app.config.role === 'manager' || app.config.role === 'gateway') {
        throw new LightsoutError('VALIDATION_FAILED', 'an upload names the server it is for (Upload-Metadata "server"): its bytes go into that server\'s agent', { hint: 'the CLI and the web console send it; a tus client adds server <base64 server id>' });
      }
      return false;
    }
    const sha256 = metadata.sha256?.toLowerCase();
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) throw new LightsoutError('VALIDATION_FAILED', 'Upload-Metadata must carry sha256 (64 hex digits) of the whole file', { hint: 'the CLI computes it before uploading' });
    const lengthHeader = request.headers['upload-length'];
    if (typeof lengthHeader !== 'string' || !/^\d{1,16}$/.test(lengthHeader)) throw new LightsoutError('VALIDATION_FAILED', 'Upload-Length is required (deferred length is not accepted)');
    const size = Number(lengthHeader);
    if (size > maxUploadBytes) throw new LightsoutError('PAYLOAD_TOO_LARGE', `an upload is at most ${maxUploadBytes} bytes`);
    if (size === 0) throw emptyUpload();
    const server = await serverFor(serverId, caller(request));
    // Checked against the quota as the row is inserted (agent-uploads.ts): uploads created at once on two replicas cannot both take the last room.
    // The relay file store's share is read under this process's tenant lock, which its own creations hold too.
    const record = await creations.run(uploadCaller.tenant, async () => {
      const quota = { bytes: tenantQuotaBytes, usedElsewhere: await tenantUsage(store, uploadCaller.tenant) };
      return createAgentUpload(agentUploads, reply.raw, { caller: uploadCaller, server, filename: displayName(metadata.filename ?? ''), sha256, size, quota });
    });
    request.log.info({ uploadId: record.id, serverId: server.id, size, sha256 }, 'media upload into the agent created');
    return true;
  }

  /** PATCHes in progress per caller: a revocation of the caller ends theirs at once. */
  const patching = new Map<string, Set<AbortController>>();
  const tusHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const who = caller(request);
    const uploadCaller = { subject: who.subject, username: who.username, tenant: who.tenant };
    reply.hijack();
    logFailuresTo(reply.raw, request.log);
    // An upload for a server goes into that server's agent (agent-patch.ts); the rest stays in the relay's file store.
    try {
      if (request.method === 'POST' && (await createForServer(request, reply, uploadCaller))) return;
      const row = request.method === 'POST' ? undefined : await agentUploadFor(uploadIdOf(request.raw.url ?? ''), who.tenant);
      if (row && agentUploads && request.method === 'HEAD') return await headAgentUpload(agentUploads, request.raw, reply.raw, row);
      if (request.method === 'HEAD') return await handleHead({ store, locker, onVerified }, request.raw, reply.raw, uploadIdOf(request.raw.url ?? ''), uploadCaller);
      if (row && agentUploads && request.method === 'DELETE') {
        await deleteAgentUpload(agentUploads, reply.raw, row);
        return discardInAgent(row);
      }
      if (request.method === 'PATCH') {
        const revoked = new AbortController();
        const mine = patching.get(who.subject) ?? new Set<AbortController>();
        patching.set(who.subject, mine.add(revoked));
        try {
          // the bytes of an upload take our Node-stream path; the rest of tus is @tus/server's
          if (row && agentUploads) return await patchAgentUpload(agentUploads, request.raw, reply.raw, row, revoked.signal);
          return await handlePatch({ store, locker, onVerified, onBytes }, request.raw, reply.raw, uploadIdOf(request.raw.url ?? ''), uploadCaller, revoked.signal);
        } finally {
          mine.delete(revoked);
          if (mine.size === 0 && patching.get(who.subject) === mine) patching.delete(who.subject);
        }
      }
    } catch (error) {
      return sendRefusal(request.raw, reply.raw, tusHeaders(), error);
    }
    callers.set(request.raw, uploadCaller);
    jsonErrorBodies(reply.raw);
    await tus.handle(request.raw, reply.raw);
  };
  /**
   * A browser's CORS preflight (Fetch §3.2.2): a web console served by the
   * manager sends an upload's bytes to the gateway holding the server's
   * agent, another origin, with Authorization and tus headers, so the
   * browser asks first — and a preflight never carries credentials. It is
   * answered by @tus/server with the methods and headers tus allows (and
   * Tus-Version); it reveals nothing and changes nothing. The request that
   * follows is authenticated as ever (a bearer token, never a cookie, so
   * `Access-Control-Allow-Origin: *` lends no one our users' authority).
   */
  const tusPreflight = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    await tus.handle(request.raw, reply.raw);
  };
  // Reading an upload's offset is a read; everything else of tus writes.
  for (const path of [MEDIA_UPLOADS_PATH, `${MEDIA_UPLOADS_PATH}/*`]) {
    app.route({ method: 'HEAD', url: path, config: { permission: 'media.read' }, schema: { hide: true }, handler: tusHandler });
    app.route({ method: ['POST', 'PATCH', 'DELETE'], url: path, config: { permission: 'media.upload' }, schema: { hide: true }, handler: tusHandler });
    app.route({ method: 'OPTIONS', url: path, config: { permission: 'public' }, schema: { hide: true }, handler: tusPreflight });
  }

  api.get('/v1/media/images', { config: { permission: 'media.read' }, schema: { tags: ['media'], querystring: Type.Object({ server: Type.Optional(Type.String({ maxLength: 63 })) }), response: { 200: MediaImageList, ...errors } } }, async (request) => {
    const who = caller(request);
    const server = request.query.server;
    // With ?server: the images a mount on that server can use without an upload (the relay's own, or in its agent's cache).
    const agentId = server === undefined ? undefined : (await serverFor(server, who)).agentId;
    const rows = ((await dependencies.uploads?.ofTenant(who.tenant)) ?? []).filter((row) => row.verified === 1 && (agentId === undefined || row.agent_id === agentId)).map((row) => recordOfRow(row));
    const images = [...(await listUploads(store)), ...rows]
      .filter((record) => record.tenant === who.tenant && record.verified)
      .map((record) => ({ uploadId: record.id, filename: record.filename, sha256: record.sha256, size: record.size, uploadedBy: record.username, createdAt: record.createdAt }));
    return { images };
  });

  /** A mount that started, whatever its source, as one audit row (the access hook records only refusals). */
  const auditMount = (request: FastifyRequest, who: MediaCaller, serverId: string, details: Record<string, unknown>) =>
    dependencies.audit?.(request, { action: 'media.mount', outcome: 'success', subject: who.subject, tenant: who.tenant, target: `server:${serverId}`, details });

  // ── the one action ──────────────────────────────────────────────────────
  /** Mount and eject for the routes below and the MCP tools: one implementation; the caller was authorised for it. */
  const actions: MediaActions = {
    async mount(request, serverId, body) {
      const who = caller(request);
      const server = await serverFor(serverId, who);
      const { uploadId, sha256, url, boot, replace } = body;
      if (url !== undefined) return mountByUrl(request, who, server, url, body);
      if ((uploadId === undefined) === (sha256 === undefined)) throw new LightsoutError('VALIDATION_FAILED', 'give exactly one of uploadId, sha256 and url');
      const rows = ((await dependencies.uploads?.ofTenant(who.tenant)) ?? []).filter((row) => row.agent_id === server.agentId);
      const row = uploadId ? await dependencies.uploads?.find(uploadId) : rows.find((candidate) => candidate.verified === 1 && candidate.sha256 === sha256);
      // an upload into an agent's cache is there only: another agent's server cannot mount it
      if (row && row.agent_id !== server.agentId) throw new LightsoutError('NOT_FOUND', `that upload went into the cache of another agent than ${server.id}'s`, { hint: 'upload the image again for this server' });
      const record = row
        ? recordOfRow(row)
        : uploadId
          ? await findUpload(store, uploadId)
          : (await listUploads(store)).find((candidate) => candidate.tenant === who.tenant && candidate.verified && candidate.sha256 === sha256);
      if (!record || record.tenant !== who.tenant) throw new LightsoutError('NOT_FOUND', 'no such upload');
      // An upload still arriving may be mounted: the agent pulls it as it grows (cut-through) and
      // the mount itself waits until the agent holds every byte with the right SHA-256.
      const state = await jobs.start(server, who, { kind: 'upload', record }, { boot: boot === true, replace: replace === true });
      await auditMount(request, who, server.id, { sha256: record.sha256, filename: record.filename, size: record.size, boot: boot === true, replace: replace === true });
      request.log.info({ serverId: server.id, uploadId: record.id, sha256: record.sha256, boot: boot === true, by: who.username }, 'virtual media mount started');
      return state;
    },
    async eject(request, serverId) {
      const who = caller(request);
      const server = await serverFor(serverId, who);
      request.log.info({ serverId: server.id, by: who.username }, 'virtual media eject');
      const state = await jobs.eject(server);
      await dependencies.audit?.(request, { action: 'media.eject', outcome: 'success', subject: who.subject, tenant: who.tenant, target: `server:${server.id}` });
      return state;
    },
  };
  options.expose?.(actions);

  /** Whether the tenant has a verified upload of these bytes of its own (its proof that it holds them). */
  async function tenantHolds(tenant: string, sha256: string): Promise<boolean> {
    const rows = (await dependencies.uploads?.ofTenant(tenant)) ?? [];
    if (rows.some((row) => row.verified === 1 && row.sha256 === sha256)) return true;
    return (await listUploads(store)).some((record) => record.tenant === tenant && record.verified && record.sha256 === sha256);
  }

  /**
   * Mount by URL: the agent fetches the image (url-fetch.ts there). The relay
   * refuses at once what no policy allows (no policy, another scheme, a host
   * name matching no entry); the agent, which resolves names in its own
   * network, checks every hop and address. Every fetch is audited twice: when
   * asked (media.mount with the URL) and when it ends (media.fetch-url, with
   * the hops, the bytes and the outcome).
   */
  async function mountByUrl(request: FastifyRequest, who: MediaCaller, server: MediaServerInfo, text: string, body: MediaMountRequest): Promise<MediaState> {
    if (body.uploadId !== undefined) throw new LightsoutError('VALIDATION_FAILED', 'give exactly one of uploadId, sha256 and url (with url, sha256 is the hash the image must have)');
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new LightsoutError('VALIDATION_FAILED', 'url is not a URL');
    }
    const shownUrl = `${url.protocol}//${url.host}${url.pathname}`;
    const audit = (outcome: 'success' | 'failure' | 'denied', details: Record<string, unknown>) =>
      dependencies.audit?.(request, { action: 'media.fetch-url', outcome, subject: who.subject, tenant: who.tenant, target: `server:${server.id}`, details: { url: shownUrl, ...details } });
    const policy: MediaUrlPolicy = (await dependencies.urlPolicies?.get(who.tenant))?.policy ?? { allow: [] };
    const refusal =
      url.protocol !== 'http:' && url.protocol !== 'https:'
        ? `${url.protocol} URLs are not fetched (http and https only)`
        : policy.allow.length === 0
          ? `the tenant's media URL policy allows no host yet`
          : undefined;
    if (refusal) {
      await audit('denied', { code: 'MEDIA_URL_NOT_ALLOWED', reason: refusal });
      throw new LightsoutError('MEDIA_URL_NOT_ALLOWED', refusal);
    }
    const maxBytes = Math.min(policy.maxBytes ?? maxUploadBytes, maxUploadBytes);
    const filename = decodeURIComponentSafe(url.pathname.split('/').pop() ?? '') || 'image.iso';
    const source: MountSource = {
      kind: 'url',
      url: url.href,
      shownUrl,
      filename,
      allow: policy.allow,
      maxBytes,
      ...(body.sha256 ? { sha256: body.sha256, reuseCached: await tenantHolds(who.tenant, body.sha256) } : {}),
      onFetched: (fetch) =>
        void audit(fetch.state === 'cached' ? 'success' : fetch.error?.code === 'MEDIA_URL_NOT_ALLOWED' ? 'denied' : 'failure', {
          sha256: fetch.sha256,
          size: fetch.size,
          bytes: fetch.bytes,
          resumes: fetch.resumes,
          hops: fetch.hops,
          ...(fetch.error ? { code: fetch.error.code, message: fetch.error.message } : {}),
        })?.catch((error: unknown) => request.log.warn({ err: error }, 'could not audit a media fetch by URL')),
    };
    const state = await jobs.start(server, who, source, { boot: body.boot === true, replace: body.replace === true });
    await auditMount(request, who, server.id, { url: shownUrl, filename, ...(body.sha256 ? { sha256: body.sha256 } : {}), boot: body.boot === true, replace: body.replace === true });
    request.log.info({ serverId: server.id, url: shownUrl, boot: body.boot === true, by: who.username }, 'virtual media mount by URL started');
    return state;
  }

  // ── the tenant's media URL policy ───────────────────────────────────────
  const TenantQuery = Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 63 })) });
  api.get('/v1/media/url-policy', { config: { permission: 'media.policy' }, schema: { tags: ['media'], querystring: TenantQuery, response: { 200: MediaUrlPolicyView, ...errors } } }, async (request) => {
    const tenant = targetTenant(request.principal!, request.query.tenant);
    return (await dependencies.urlPolicies?.get(tenant)) ?? { tenant, policy: { allow: [] }, updatedAt: null, updatedBy: null };
  });
  api.put('/v1/media/url-policy', { config: { permission: 'media.policy' }, schema: { tags: ['media'], querystring: TenantQuery, body: MediaUrlPolicy, response: { 200: MediaUrlPolicyView, ...errors } } }, async (request) => {
    const who = caller(request);
    const tenant = targetTenant(request.principal!, request.query.tenant);
    const policy = request.body;
    const problems = policy.allow.map(mediaUrlPolicyEntryError).filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) throw new LightsoutError('VALIDATION_FAILED', `media URL policy: ${problems.join('; ')}`);
    if (!dependencies.urlPolicies) throw new LightsoutError('BMC_UNSUPPORTED', 'this relay keeps no media URL policies');
    const view = await dependencies.urlPolicies.set(tenant, { allow: policy.allow.map((entry) => entry.trim().toLowerCase()), ...(policy.maxBytes ? { maxBytes: policy.maxBytes } : {}) }, who.username);
    await dependencies.audit?.(request, { action: 'media.url-policy.set', outcome: 'success', subject: who.subject, tenant, target: `tenant:${tenant}`, details: { policy: view.policy } });
    return view;
  });

  api.post(
    '/v1/servers/:id/media',
    { config: { permission: 'media.mount' }, schema: { tags: ['media'], params: ServerParams, body: MediaMountRequest, response: { 202: MediaState, ...errors } } },
    async (request, reply) => reply.status(202).send(await actions.mount(request, request.params.id, request.body)),
  );

  api.get('/v1/servers/:id/media', { config: { permission: 'media.read' }, schema: { tags: ['media'], params: ServerParams, response: { 200: MediaState, ...errors } } }, async (request) => {
    const who = caller(request);
    return jobs.status(await serverFor(request.params.id, who));
  });

  api.delete('/v1/servers/:id/media', { config: { permission: 'media.eject' }, schema: { tags: ['media'], params: ServerParams, response: { 200: MediaState, ...errors } } }, async (request) =>
    actions.eject(request, request.params.id),
  );

  // ── agent pull (dial-back data connection) ──────────────────────────────
  api.get('/v1/agent/media/:uploadId', { config: { permission: 'agent-token' }, schema: { hide: true, params: UploadParams } }, async (request, reply) => {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw new LightsoutError('UNAUTHENTICATED', 'agent token missing');
    const agentId = await dependencies.verifyAgentToken(header.slice('Bearer '.length));
    const row = await dependencies.uploads?.find(request.params.uploadId);
    if (row) return pullFromClient(row, agentId, request, reply);
    const grant = jobs.grants.get(request.params.uploadId);
    if (!grant || grant.agentId !== agentId || grant.expiresAt < Date.now()) throw new LightsoutError('FORBIDDEN', 'this agent has no transfer of that image in progress');
    const { record } = grant;
    const size = record.size;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > size) return reply.status(416).header('content-range', `bytes */${size}`).send();
    reply.header('content-type', 'application/octet-stream').header('content-length', size - start).header('x-content-sha256', record.sha256);
    if (range) reply.status(206).header('content-range', `bytes ${start}-${size - 1}/${size}`);
    if (size - start === 0) return reply.send('');
    const path = store.pathOf(record.id);
    const current = await findUpload(store, record.id);
    if (!current) throw new LightsoutError('NOT_FOUND', 'the upload is gone');
    // streamed from disk (while it may still be arriving); the socket's backpressure paces the reads
    if (current.verified) return reply.send(createReadStream(path, { start, end: size - 1, highWaterMark: 1024 * 1024 }));
    return reply.send(readGrowingFile({ path, start, size, stallTimeoutMs: options.stallTimeoutMs ?? 120_000 }));
  });

  /**
   * The agent's pull of an upload into its cache: the response stays open and
   * the client's PATCH bodies are written into it as they arrive (agent-legs.ts).
   * Only the agent the upload was created for may pull it.
   */
  async function pullFromClient(row: AgentUploadRow, agentId: string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (row.agent_id !== agentId) throw new LightsoutError('FORBIDDEN', 'this upload goes to another agent');
    if (row.verified === 1) {
      // it was verified in this agent's cache, which no longer has it (evicted): the row is stale, the client uploads again
      await dependencies.uploads!.remove(row.id);
      throw new LightsoutError('NOT_FOUND', 'the image left the agent cache; upload it again');
    }
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > row.size) return reply.status(416).header('content-range', `bytes */${row.size}`).send();
    reply.hijack();
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(row.size - start), 'x-content-sha256': row.sha256 };
    if (range) headers['content-range'] = `bytes ${start}-${row.size - 1}/${row.size}`;
    reply.raw.writeHead(range ? 206 : 200, headers);
    // the headers now, so the agent's request resolves and its cache file opens before the first byte
    reply.raw.flushHeaders();
    if (start === row.size) {
      reply.raw.end();
      return reply;
    }
    legs.attach(row.id, reply.raw, start, row.size);
    return reply;
  }
}
