import type { Logger } from 'pino';
import {
  type AgentMediaJob,
  LightsoutError,
  type MediaDiscardResult,
  type MediaEjectResult,
  type MediaFetchParams,
  type MediaFetchResult,
  type MediaFetchUrlParams,
  type MediaFetchUrlResult,
  type MediaMountParams,
  type MediaStatusResult,
} from '@lightsout/shared';
import type { BmcDriver } from '../drivers/types.js';
import { MediaCache, type ResumePolicy, assertSha256 } from './cache.js';
import { type MediaAccess, MediaServer } from './media-server.js';
import { MountJobs } from './mount-jobs.js';
import { MountRegistry } from './mounts.js';
import { MediaTransfers } from './transfers.js';
import { MediaUrlFetches } from './url-fetch.js';
import { type VirtualMediaDriver, hasVirtualMedia } from './types.js';
import { MediaUrlSigner, loadOrCreateKey } from './url-signer.js';

/**
 * The agent's part of the one action, one job per file: transfers into the
 * cache (transfers.ts), the mount job of each server (mount-jobs.ts), the
 * mounts kept across restarts with their automatic ejects (mounts.ts), and
 * the signed URLs the BMC fetches from (url-signer.ts, media-server.ts).
 * This class wires them together and answers the `media.*` control ops.
 */
export interface MediaServiceOptions {
  cacheDirectory: string;
  cacheBytes: number;
  /** File holding the HMAC key of media URLs (created 0600), so URLs survive an agent restart. */
  keyFile: string;
  listenHost: string;
  listenPort: number;
  publicBaseUrl?: string;
  tls?: { key: string; cert: string };
  /** How long a media URL stays valid: BMCs read the CD for the whole install. */
  urlTtlSeconds: number;
  /** Eject automatically this long after mounting (0 = never). */
  autoEjectSeconds: number;
  /** Where the mounts are kept across agent restarts (mount-store.ts). */
  mountsFile: string;
  /** How a cut relay → agent transfer is resumed (default: MediaCache's). */
  resume?: ResumePolicy;
  /**
   * How long, after the BMC accepted the image, to wait for proof that it
   * has it: a GET of the signed URL at the media server, or the slot
   * reporting it inserted and connected (default 30 s).
   */
  fetchWaitMs?: number;
  /** The agent's own networks as CIDR, internal for mount by URL (default: from the interfaces; tests). */
  agentNetworks?: () => string[];
}

export interface MediaServiceContext {
  /** Base URL of the relay the agent is connected to now (the one that asked for the transfer). */
  relay: () => string;
  logger: Logger;
  signJwt: () => Promise<string>;
  /** The Redfish virtual media driver of a server; undefined when it has no Redfish endpoint. */
  mediaDriverFor: (serverId: string) => (BmcDriver & VirtualMediaDriver) | undefined;
  hasServer: (serverId: string) => boolean;
  /** A transfer from the relay began or ended (metrics). */
  onTransfer?: (event: 'started' | 'cached' | 'failed') => void;
}

export class MediaService {
  readonly cache: MediaCache;
  readonly server: MediaServer;
  private readonly transfers: MediaTransfers;
  private readonly urlFetches: MediaUrlFetches;
  private readonly mounts: MountRegistry;
  private readonly jobs: MountJobs;
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly options: MediaServiceOptions,
    private readonly context: MediaServiceContext,
  ) {
    const track = (work: Promise<unknown>) => this.track(work);
    this.cache = new MediaCache({ directory: options.cacheDirectory, maxBytes: options.cacheBytes });
    this.server = new MediaServer({
      cache: this.cache,
      signer: new MediaUrlSigner(loadOrCreateKey(options.keyFile)),
      host: options.listenHost,
      port: options.listenPort,
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.publicBaseUrl ? { publicBaseUrl: options.publicBaseUrl } : {}),
      onAccess: (access) => {
        logAccess(context.logger, access);
        this.jobs.onAccess(access);
      },
    });
    this.transfers = new MediaTransfers(this.cache, {
      relay: context.relay,
      logger: context.logger,
      signJwt: context.signJwt,
      track,
      ...(context.onTransfer ? { onTransfer: context.onTransfer } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
    });
    this.urlFetches = new MediaUrlFetches(this.cache, {
      logger: context.logger,
      track,
      ...(context.onTransfer ? { onTransfer: context.onTransfer } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
      ...(options.agentNetworks ? { agentNetworks: options.agentNetworks } : {}),
    });
    this.mounts = new MountRegistry(this.cache, { mountsFile: options.mountsFile, autoEjectSeconds: options.autoEjectSeconds }, {
      logger: context.logger,
      hasServer: context.hasServer,
      track,
      autoEject: async (serverId) => {
        await this.eject(serverId);
      },
    });
    this.jobs = new MountJobs(
      { urlTtlSeconds: options.urlTtlSeconds, ...(options.fetchWaitMs !== undefined ? { fetchWaitMs: options.fetchWaitMs } : {}) },
      { cache: this.cache, server: this.server, mounts: this.mounts, logger: context.logger, track },
    );
  }

  async start(): Promise<string> {
    await this.cache.open();
    this.mounts.restore();
    const url = await this.server.start();
    this.context.logger.info({ url, cacheBytes: this.options.cacheBytes }, 'media server listening');
    if (!this.options.publicBaseUrl && /^(127\.|localhost$|::1$)/.test(this.options.listenHost)) {
      this.context.logger.warn({ url }, 'the media server listens on loopback: BMCs cannot fetch images from it; set media.listen in the agent config to the agent address on the out-of-band network');
    }
    return url;
  }

  async stop(): Promise<void> {
    this.transfers.abortAll();
    this.urlFetches.abortAll();
    this.mounts.stop();
    await Promise.allSettled([...this.running]);
    await this.server.stop();
  }

  // ── media.fetch ─────────────────────────────────────────────────────────
  fetch(params: MediaFetchParams): MediaFetchResult {
    assertSha256(params.sha256);
    this.assertServer(params.serverId);
    if (!params.pullPath.startsWith('/v1/agent/media/')) throw new LightsoutError('BAD_REQUEST', 'pullPath must be a relay media path');
    return { cached: this.transfers.fromRelay(params) };
  }

  // ── media.fetch-url ─────────────────────────────────────────────────────
  fetchUrl(params: MediaFetchUrlParams): MediaFetchUrlResult {
    this.assertServer(params.serverId);
    return this.urlFetches.start(params);
  }

  // ── media.status ────────────────────────────────────────────────────────
  status(serverId: string, sha256?: string, fetchId?: string, pullPath?: string): MediaStatusResult {
    this.assertServer(serverId);
    return {
      transfer: sha256 ? this.transfers.of(sha256, pullPath) : null,
      ...(fetchId !== undefined ? { urlFetch: this.urlFetches.of(fetchId) } : {}),
      mount: this.mounts.publicOf(serverId),
      job: this.jobs.of(serverId),
    };
  }

  // ── media.mount ─────────────────────────────────────────────────────────
  mount(params: MediaMountParams): AgentMediaJob {
    assertSha256(params.sha256);
    this.assertServer(params.serverId);
    const driver = this.context.mediaDriverFor(params.serverId);
    if (!driver) {
      throw new LightsoutError('BMC_UNSUPPORTED', `virtual media needs Redfish on the BMC of ${params.serverId}`, { hint: 'configure a redfish endpoint for this server; IPMI has no virtual media' });
    }
    if (!this.cache.has(params.sha256)) throw new LightsoutError('NOT_FOUND', 'the image is not in the agent cache', { hint: 'the relay sends it first (media.fetch)' });
    return this.jobs.start(params, driver);
  }

  /** Resolves when the server's current mount job has settled (mounted, booting or failed). */
  async settled(serverId: string): Promise<AgentMediaJob | null> {
    return this.jobs.settled(serverId);
  }

  // ── media.discard ───────────────────────────────────────────────────────
  /** The relay no longer has this upload (expired, deleted): what the agent kept of it goes. */
  async discard(pullPath: string): Promise<MediaDiscardResult> {
    if (!pullPath.startsWith('/v1/agent/media/')) throw new LightsoutError('BAD_REQUEST', 'pullPath must be a relay media path');
    return { discarded: await this.transfers.discard(pullPath) };
  }

  // ── media.eject ─────────────────────────────────────────────────────────
  async eject(serverId: string): Promise<MediaEjectResult> {
    this.assertServer(serverId);
    if (this.jobs.isRunning(serverId)) throw new LightsoutError('CONFLICT', `a mount is running on ${serverId}; eject when it has finished`);
    const driver = this.context.mediaDriverFor(serverId);
    if (!driver) throw new LightsoutError('BMC_UNSUPPORTED', `virtual media needs Redfish on the BMC of ${serverId}`);
    const ejected = await this.mounts.eject(serverId, driver);
    this.jobs.forget(serverId);
    return { ejected };
  }

  private assertServer(serverId: string): void {
    if (!this.context.hasServer(serverId)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${serverId}`);
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }
}

function logAccess(logger: Logger, access: MediaAccess): void {
  const level = access.status >= 400 ? 'warn' : 'info';
  logger[level]({ media: access }, 'media access');
}

export function isVirtualMediaDriver(driver: BmcDriver | undefined): driver is BmcDriver & VirtualMediaDriver {
  return driver !== undefined && hasVirtualMedia(driver);
}
