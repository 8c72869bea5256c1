import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { type AgentMediaJob, type AgentMediaUrlFetch, LightsoutError, type MediaEjectResult, type MediaState, type MediaStatusResult, type MediaStep } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { SharedMediaJobs } from '../../inventory/live-status.js';
import type { MediaCaller, MediaDependencies, MediaServerInfo } from './dependencies.js';
import type { UploadRecord } from './uploads.js';

/**
 * The relay's side of the one action, per server:
 *
 *   idle ─mount─▶ transferring ─cached─▶ mounting ─▶ setting-boot ─▶ resetting ─▶ booting
 *                      │                  │               │              │
 *                      └──────────────────┴───────────────┴──────────────┴──▶ failed (failedStep)
 *   without boot: mounting ─▶ mounted;   eject: any settled state ─▶ idle
 *
 * The bytes travel on the agent's own data connection (a dial-back GET to
 * /v1/agent/media/{uploadId}, granted here for the duration of the transfer);
 * the BMC work runs in an agent-side job that this loop polls.
 *
 * With `shared` (every deployment with a store of servers), a job first
 * claims its server in the store and writes its states there under a lease
 * it renews while it runs: a mount or eject through another replica is
 * refused meanwhile, and that replica's status shows this job's progress.
 */
export interface PullGrant {
  agentId: string;
  serverId: string;
  record: UploadRecord;
  expiresAt: number;
}

export interface MediaJobsOptions {
  dependencies: MediaDependencies;
  /** Every new state of a server's media (the tree's mounted-media badge listens). */
  onState?(state: MediaState): void;
  log: FastifyBaseLogger;
  pollIntervalMs: number;
  /** A transfer that makes no progress for this long fails. */
  stallTimeoutMs: number;
  /** A BMC job (mount + boot + reset) that takes longer fails. */
  mountTimeoutMs: number;
  requestTimeoutMs: number;
  /** The upload as stored now: mounting waits until the caller's own bytes are complete and verified. */
  uploadState: (uploadId: string) => Promise<{ verified: boolean; offset: number } | undefined>;
  /** The jobs of every replica, kept with the servers; without it, this relay's jobs are the only ones. */
  shared?: SharedMediaJobs;
  /** How long a claim holds a server without being renewed (a job renews it a few times within it); default 30 s. */
  leaseMs?: number;
}

/** A running job's progress reaches the store at most this often (each step's change at once). */
const SHARE_PROGRESS_EVERY_MS = 1000;

/**
 * What a mount mounts: a tenant's upload, pulled by the agent from the
 * relay, or an image the agent fetches by URL under the tenant's URL policy
 * (`onFetched` hears how that fetch ended: the audit row).
 */
export type MountSource =
  | { kind: 'upload'; record: UploadRecord }
  | {
      kind: 'url';
      url: string;
      /** The URL as shown and audited: no user info, no query. */
      shownUrl: string;
      filename: string;
      allow: string[];
      maxBytes: number;
      sha256?: string;
      /** The tenant has a verified upload of `sha256` itself: the agent may use a cached copy instead of fetching. */
      reuseCached?: boolean;
      onFetched(fetch: AgentMediaUrlFetch): void;
    };

const ACTIVE: readonly MediaStep[] = ['transferring', 'mounting', 'setting-boot', 'resetting', 'ejecting'];

export class MediaJobs {
  readonly grants = new Map<string, PullGrant>();
  private readonly states = new Map<string, MediaState>();
  private readonly running = new Set<Promise<void>>();
  /** Bumped when a server's media is taken from its tenant (a tenant move): a job of an older generation stops at its next step. */
  private readonly generations = new Map<string, number>();
  /** Servers whose previous tenant's image must be ejected before anyone sees their media state again. */
  private readonly pendingEject = new Set<string>();
  /** This relay's name on the jobs it runs (the store's `media_job_owner`). */
  private readonly owner = randomUUID();
  /** When this relay last changed each server's state: the store's is shown instead when another relay's is newer. */
  private readonly updatedAt = new Map<string, number>();
  /** Servers whose claim is on its way to the store: a second start here must not claim them too. */
  private readonly claiming = new Set<string>();
  private readonly lastShared = new Map<string, { step: MediaStep; at: number }>();
  private readonly leaseMs: number;
  private stopped = false;

  constructor(private readonly options: MediaJobsOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  isActive(serverId: string): boolean {
    const state = this.states.get(serverId);
    return state !== undefined && ACTIVE.includes(state.step);
  }

  /**
   * The state as the relay knows it — this one's job, or another replica's newer one from the store — completed by
   * asking the agent when no job runs.
   */
  async status(server: MediaServerInfo): Promise<MediaState> {
    if (this.pendingEject.has(server.id)) await this.release(server);
    let local = this.states.get(server.id);
    const shared = await this.options.shared?.read(server.id);
    if (shared && shared.owner !== this.owner && shared.at > (this.updatedAt.get(server.id) ?? 0)) {
      const held = shared.until > Date.now();
      if ((ACTIVE.includes(shared.state.step) && held) || shared.state.step === 'failed') return shared.state;
      // settled there, or its relay died mid-job (the lease passed): the agent says what is on the BMC now
      local = shared.state;
    } else if (local && (ACTIVE.includes(local.step) || local.step === 'failed')) {
      return local;
    }
    let agent: MediaStatusResult;
    try {
      agent = await this.options.dependencies.requestAgent(server.agentId, 'media.status', { serverId: server.id }, this.options.requestTimeoutMs);
    } catch (error) {
      if (local) return local;
      throw error;
    }
    return this.update(server.id, fromAgent(server.id, agent, local));
  }

  async start(server: MediaServerInfo, caller: MediaCaller, source: MountSource, options: { boot: boolean; replace?: boolean }): Promise<MediaState> {
    if (this.stopped) throw new LightsoutError('AGENT_OFFLINE', 'the relay is shutting down');
    if (this.pendingEject.has(server.id)) throw new LightsoutError('CONFLICT', `the previous tenant's image is still being ejected from ${server.id}`, { hint: 'retry in a moment' });
    if (this.isActive(server.id) || this.claiming.has(server.id)) {
      throw new LightsoutError('CONFLICT', `a media operation is already running on ${server.id}`, { hint: 'wait for it (lightsout media status) or eject first' });
    }
    const image =
      source.kind === 'upload'
        ? { sha256: source.record.sha256, filename: source.record.filename, size: source.record.size }
        : { sha256: source.sha256 ?? '', filename: source.filename, size: 0, url: source.shownUrl };
    const first: MediaState = {
      ...emptyState(server.id),
      step: 'transferring',
      message: source.kind === 'upload' ? `sending ${image.filename} to the agent` : `the agent is fetching ${source.shownUrl}`,
      image,
      mountedBy: caller.username,
      progress: { bytes: 0, total: image.size },
    };
    await this.claim(server.id, first);
    if (this.stopped) throw new LightsoutError('AGENT_OFFLINE', 'the relay is shutting down');
    const state = this.update(server.id, first);
    const run = this.run(server, caller, source, options, this.generations.get(server.id) ?? 0).finally(() => this.running.delete(run));
    this.running.add(run);
    return state;
  }

  async eject(server: MediaServerInfo): Promise<MediaState> {
    if ((this.isActive(server.id) && this.states.get(server.id)?.step !== 'ejecting') || this.claiming.has(server.id)) {
      throw new LightsoutError('CONFLICT', `a media operation is running on ${server.id}; eject when it has finished`);
    }
    const previous = this.states.get(server.id);
    const ejecting: MediaState = { ...(previous ?? emptyState(server.id)), step: 'ejecting', message: 'ejecting' };
    await this.claim(server.id, ejecting);
    this.update(server.id, ejecting);
    let answer: Partial<MediaEjectResult>;
    try {
      answer = await this.options.dependencies.requestAgent(server.agentId, 'media.eject', { serverId: server.id }, this.options.requestTimeoutMs);
    } catch (error) {
      this.update(server.id, { ...(previous ?? emptyState(server.id)), step: 'failed', failedStep: 'ejecting', message: 'eject failed', error: errorOf(error) });
      await this.options.shared?.written(server.id);
      throw error;
    }
    const ejected = this.update(server.id, { ...emptyState(server.id), message: ejectMessage(answer.ejected) });
    // answered once every replica would say so
    await this.options.shared?.written(server.id);
    return ejected;
  }

  /**
   * The server left the tenant whose media this is (a tenant move): stop
   * any job of theirs, withdraw the agent's pull grant, forget the state
   * here, and eject whatever image is on the BMC. Until the eject is
   * confirmed, status and mount keep trying it first, so the new tenant
   * never sees (or boots) the old tenant's image. Returns what was ejected.
   */
  async release(server: Pick<MediaServerInfo, 'id' | 'agentId'>): Promise<{ ejected: NonNullable<MediaStatusResult['mount']> | undefined }> {
    this.generations.set(server.id, (this.generations.get(server.id) ?? 0) + 1);
    this.pendingEject.add(server.id);
    for (const [uploadId, grant] of this.grants) if (grant.serverId === server.id) this.grants.delete(uploadId);
    // taken from whichever relay ran the old tenant's job: its later writes no longer land
    void this.options.shared?.write(server.id, this.owner, this.update(server.id, { ...emptyState(server.id), message: 'ejecting the previous tenant\'s image' }), 0, { take: true }).catch((error: unknown) => this.options.log.warn({ err: error, serverId: server.id }, 'could not take the media job over in the store'));
    const { dependencies, requestTimeoutMs } = this.options;
    const status = await dependencies.requestAgent(server.agentId, 'media.status', { serverId: server.id }, requestTimeoutMs);
    if (status.mount || (status.job && status.job.step !== 'failed')) await dependencies.requestAgent(server.agentId, 'media.eject', { serverId: server.id }, requestTimeoutMs);
    this.pendingEject.delete(server.id);
    this.update(server.id, { ...emptyState(server.id), message: 'no virtual media' });
    return { ejected: status.mount ?? undefined };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running]);
  }

  private update(serverId: string, state: Omit<MediaState, 'revision'> & { revision?: number }): MediaState {
    const revision = (this.states.get(serverId)?.revision ?? 0) + 1;
    const next: MediaState = { ...state, revision } as MediaState;
    this.states.set(serverId, next);
    this.updatedAt.set(serverId, Date.now());
    this.options.onState?.(next);
    this.share(next);
    return next;
  }

  /** Claims the server in the store for a job of this relay (no store: nothing to claim). */
  private async claim(serverId: string, first: MediaState): Promise<void> {
    const { shared } = this.options;
    if (!shared) return;
    this.claiming.add(serverId);
    try {
      if (!(await shared.claim(serverId, this.owner, first, Date.now() + this.leaseMs))) {
        throw new LightsoutError('CONFLICT', `a media operation is already running on ${serverId} through another relay`, { hint: 'wait for it (lightsout media status) or eject when it has finished' });
      }
    } finally {
      this.claiming.delete(serverId);
    }
  }

  /**
   * Writes a state of this relay's job to the store: each new step at once (a settled one frees the server),
   * progress within a step at most once a second, `renew` whatever the time (the lease's heartbeat).
   */
  private share(state: MediaState, renew = false): void {
    const { shared } = this.options;
    if (!shared) return;
    const active = ACTIVE.includes(state.step);
    const now = Date.now();
    const last = this.lastShared.get(state.serverId);
    if (!renew && active && last?.step === state.step && now - last.at < SHARE_PROGRESS_EVERY_MS) return;
    this.lastShared.set(state.serverId, { step: state.step, at: now });
    shared.write(state.serverId, this.owner, state, active ? now + this.leaseMs : 0).catch((error: unknown) => this.options.log.warn({ err: error, serverId: state.serverId }, 'could not store the media job'));
  }

  private patch(serverId: string, changes: Partial<MediaState>): MediaState {
    return this.update(serverId, { ...this.states.get(serverId)!, ...changes });
  }

  private async run(server: MediaServerInfo, caller: MediaCaller, source: MountSource, { boot, replace }: { boot: boolean; replace?: boolean }, generation: number): Promise<void> {
    const { dependencies, requestTimeoutMs } = this.options;
    const current = () => {
      if ((this.generations.get(server.id) ?? 0) !== generation) throw new Released();
    };
    let step: MediaStep = 'transferring';
    // the lease's heartbeat: a step may wait on one agent request for longer than the progress writes' pace
    const heartbeat = setInterval(() => {
      const state = this.states.get(server.id);
      if (state && ACTIVE.includes(state.step)) this.share(state, true);
    }, this.leaseMs / 3);
    heartbeat.unref();
    try {
      let image: { sha256: string; filename: string; size: number };
      if (source.kind === 'upload') {
        const { record } = source;
        await this.transfer(server, record, current);
        // the agent may have had the image already (another tenant, an earlier upload): only the
        // caller's own verified upload proves they hold these bytes, so wait for it to finish
        await this.uploadVerified(server.id, record, current);
        image = { sha256: record.sha256, filename: record.filename, size: record.size };
      } else {
        image = await this.fetchUrl(server, source, current);
      }
      current();
      step = 'mounting';
      this.patch(server.id, { step, message: `mounting ${image.filename} on the BMC`, image: { ...this.states.get(server.id)!.image, ...image }, progress: { bytes: image.size, total: image.size } });
      const started = await dependencies.requestAgent(
        server.agentId,
        'media.mount',
        { serverId: server.id, sha256: image.sha256, filename: image.filename, mountedBy: caller.username, boot, ...(replace ? { replace: true } : {}) },
        requestTimeoutMs,
      );
      const job = await this.followJob(server, started, current);
      if (job.step === 'failed') {
        step = job.failedStep ?? 'mounting';
        throw new LightsoutError((job.error?.code as never) ?? 'INTERNAL', job.error?.message ?? 'the agent could not mount the image', job.error?.hint ? { hint: job.error.hint } : {});
      }
      const status = await dependencies.requestAgent(server.agentId, 'media.status', { serverId: server.id }, requestTimeoutMs);
      current();
      this.update(server.id, fromAgent(server.id, status, this.states.get(server.id)));
      if (job.warning) this.options.log.warn({ serverId: server.id, warning: job.warning }, 'virtual media: the BMC did not do exactly what was asked');
    } catch (error) {
      // released (tenant move): the state is no longer this job's to write
      if (error instanceof Released) return;
      const latest = this.states.get(server.id);
      const failedStep = latest && ACTIVE.includes(latest.step) ? latest.step : step;
      this.options.log.info({ serverId: server.id, step: failedStep, err: error }, 'virtual media failed');
      this.patch(server.id, { step: 'failed', failedStep, message: `failed while ${describeStep(failedStep)}`, error: errorOf(error) });
    } finally {
      clearInterval(heartbeat);
      if (source.kind === 'upload') this.grants.delete(source.record.id);
    }
  }

  /**
   * The agent fetches the image by URL (media.fetch-url: the tenant's policy
   * travels with the request and the agent checks it at every hop); polled
   * like a transfer. Resolves to the image as the agent hashed it.
   */
  private async fetchUrl(server: MediaServerInfo, source: Extract<MountSource, { kind: 'url' }>, current: () => void): Promise<{ sha256: string; filename: string; size: number }> {
    const { dependencies, requestTimeoutMs, pollIntervalMs, stallTimeoutMs } = this.options;
    const { fetchId } = await dependencies.requestAgent(
      server.agentId,
      'media.fetch-url',
      { serverId: server.id, url: source.url, allow: source.allow, maxBytes: source.maxBytes, ...(source.sha256 ? { sha256: source.sha256 } : {}), ...(source.reuseCached === true ? { reuseCached: true } : {}) },
      requestTimeoutMs,
    );
    let lastBytes = -1;
    let lastProgressAt = Date.now();
    for (let polls = 0; !this.stopped && polls < 10_000_000; polls += 1) {
      current();
      const status = await dependencies.requestAgent(server.agentId, 'media.status', { serverId: server.id, fetchId }, requestTimeoutMs);
      const fetch = status.urlFetch;
      if (!fetch) throw new LightsoutError('AGENT_OFFLINE', 'the agent lost the fetch (restarted?)', { hint: 'mount again: a fetch cut short resumes nothing across an agent restart' });
      if (fetch.state !== 'fetching') source.onFetched(fetch);
      if (fetch.state === 'failed') throw new LightsoutError((fetch.error?.code as never) ?? 'MEDIA_URL_FETCH_FAILED', fetch.error?.message ?? 'the agent could not fetch the image', fetch.error?.hint ? { hint: fetch.error.hint } : {});
      const total = fetch.size ?? 0;
      this.patch(server.id, { progress: { bytes: fetch.bytes, total }, image: { ...this.states.get(server.id)!.image!, filename: fetch.filename, size: total } });
      if (fetch.state === 'cached' && fetch.sha256) return { sha256: fetch.sha256, filename: fetch.filename, size: total };
      if (fetch.bytes !== lastBytes) {
        lastBytes = fetch.bytes;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > stallTimeoutMs) {
        throw new LightsoutError('AGENT_TIMEOUT', `no progress fetching the image for ${Math.round(stallTimeoutMs / 1000)} s`);
      }
      await delay(pollIntervalMs);
    }
    throw new LightsoutError('AGENT_OFFLINE', 'the relay is shutting down');
  }

  private async transfer(server: MediaServerInfo, record: UploadRecord, current: () => void): Promise<void> {
    const { dependencies, requestTimeoutMs, pollIntervalMs, stallTimeoutMs } = this.options;
    this.grants.set(record.id, { agentId: server.agentId, serverId: server.id, record, expiresAt: Date.now() + 24 * 3600_000 });
    const fetched = await dependencies.requestAgent(
      server.agentId,
      'media.fetch',
      { serverId: server.id, sha256: record.sha256, size: record.size, pullPath: `/v1/agent/media/${record.id}` },
      requestTimeoutMs,
    );
    if (fetched.cached) {
      this.patch(server.id, { message: `the agent already has ${record.filename}`, progress: { bytes: record.size, total: record.size } });
      return;
    }
    let lastBytes = -1;
    let lastProgressAt = Date.now();
    // bounded: ends on cached/failed, on a stall, or when the relay stops
    for (let polls = 0; !this.stopped && polls < 10_000_000; polls += 1) {
      await delay(pollIntervalMs);
      current();
      const status = await dependencies.requestAgent(server.agentId, 'media.status', { serverId: server.id, sha256: record.sha256 }, requestTimeoutMs);
      const transfer = status.transfer;
      if (!transfer || transfer.state === 'absent') throw new LightsoutError('AGENT_OFFLINE', 'the agent lost the transfer (restarted?)', { hint: 'mount again; the upload is kept' });
      if (transfer.state === 'failed') throw new LightsoutError((transfer.error?.code as never) ?? 'INTERNAL', transfer.error?.message ?? 'transfer to the agent failed');
      this.patch(server.id, { progress: { bytes: transfer.bytes, total: record.size } });
      if (transfer.state === 'cached') return;
      if (transfer.bytes !== lastBytes) {
        lastBytes = transfer.bytes;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > stallTimeoutMs) {
        throw new LightsoutError('AGENT_TIMEOUT', `no progress sending the image to the agent for ${Math.round(stallTimeoutMs / 1000)} s`);
      }
    }
    throw new LightsoutError('AGENT_OFFLINE', 'the relay is shutting down');
  }

  private async uploadVerified(serverId: string, record: UploadRecord, current: () => void): Promise<void> {
    const { pollIntervalMs, stallTimeoutMs, uploadState } = this.options;
    let lastOffset = -1;
    let lastProgressAt = Date.now();
    for (let polls = 0; !this.stopped && polls < 10_000_000; polls += 1) {
      current();
      const state = await uploadState(record.id);
      if (!state) throw new LightsoutError('CHECKSUM_MISMATCH', 'the upload was refused or deleted before it completed');
      if (state.verified) return;
      this.patch(serverId, { message: 'waiting for the upload to finish', progress: { bytes: state.offset, total: record.size } });
      if (state.offset !== lastOffset) {
        lastOffset = state.offset;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > stallTimeoutMs) {
        throw new LightsoutError('AGENT_TIMEOUT', `the upload made no progress for ${Math.round(stallTimeoutMs / 1000)} s`, { hint: 'run the same lightsout media mount again: the upload resumes' });
      }
      await delay(pollIntervalMs);
    }
    throw new LightsoutError('AGENT_OFFLINE', 'the relay is shutting down');
  }

  private async followJob(server: MediaServerInfo, first: AgentMediaJob, current: () => void): Promise<AgentMediaJob> {
    const { dependencies, requestTimeoutMs, pollIntervalMs, mountTimeoutMs } = this.options;
    const deadline = Date.now() + mountTimeoutMs;
    let job = first;
    for (let polls = 0; polls < 100_000; polls += 1) {
      current();
      this.patch(server.id, { step: job.step, message: describeJob(job) });
      if (job.step === 'booting' || job.step === 'mounted' || job.step === 'failed') return job;
      if (Date.now() > deadline || this.stopped) break;
      await delay(pollIntervalMs);
      const status = await dependencies.requestAgent(server.agentId, 'media.status', { serverId: server.id }, requestTimeoutMs);
      if (!status.job) throw new LightsoutError('AGENT_OFFLINE', 'the agent lost the mount job (restarted?)');
      job = status.job;
    }
    throw new LightsoutError('BMC_TIMEOUT', `the BMC did not finish within ${Math.round(mountTimeoutMs / 1000)} s`);
  }
}

/** A job whose server was released under it: it stops without writing a state. */
class Released extends Error {}

/** What an eject did, in words: the image the agent found and ejected, or that the slot was empty (an agent that does not say: the old words). */
function ejectMessage(ejected: string | null | undefined): string {
  if (ejected === undefined) return 'no virtual media';
  return ejected === null ? 'nothing to eject: the virtual CD was empty' : `ejected ${ejected}`;
}

function emptyState(serverId: string): MediaState {
  return { serverId, step: 'idle', message: 'no virtual media', image: null, mountedAt: null, mountedBy: null, autoEjectAt: null, progress: null, failedStep: null, error: null, revision: 0 };
}

function fromAgent(serverId: string, status: MediaStatusResult, local: MediaState | undefined): MediaState {
  const { mount, job } = status;
  if (!mount) {
    if (job?.step === 'failed') {
      return { ...(local ?? emptyState(serverId)), step: 'failed', failedStep: job.failedStep, message: describeJob(job), error: job.error };
    }
    return { ...emptyState(serverId), revision: local?.revision ?? 0 };
  }
  const same = local?.image?.sha256 === mount.sha256 ? local.image : undefined;
  const size = same?.size ?? 0;
  return {
    serverId,
    step: job && job.step !== 'failed' ? job.step : 'mounted',
    message: job ? describeJob(job) : `${mount.filename} is mounted`,
    image: { sha256: mount.sha256, filename: mount.filename, size, ...(same?.url ? { url: same.url } : {}) },
    mountedAt: mount.mountedAt,
    mountedBy: mount.mountedBy,
    autoEjectAt: mount.autoEjectAt,
    progress: null,
    failedStep: null,
    error: null,
    ...(job?.warning ? { warning: job.warning } : {}),
    revision: local?.revision ?? 0,
  };
}

function describeJob(job: AgentMediaJob): string {
  switch (job.step) {
    case 'mounting':
      return 'mounting the image on the BMC';
    case 'setting-boot':
      return 'setting boot-once to virtual CD';
    case 'resetting':
      return job.powerAction === 'on' ? 'powering on' : 'resetting the server';
    case 'booting':
      return 'booting from virtual media';
    case 'mounted':
      return 'image mounted';
    case 'failed':
      return `failed while ${describeStep(job.failedStep ?? 'mounting')}${job.error ? `: ${job.error.message}` : ''}`;
  }
}

function describeStep(step: MediaStep): string {
  switch (step) {
    case 'transferring':
      return 'sending the image to the agent';
    case 'mounting':
      return 'mounting the image on the BMC';
    case 'setting-boot':
      return 'setting boot-once to CD';
    case 'resetting':
      return 'resetting the server';
    case 'ejecting':
      return 'ejecting';
    default:
      return step;
  }
}

function errorOf(error: unknown): MediaState['error'] {
  if (error instanceof LightsoutError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'INTERNAL', message: 'internal error' };
}
