import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { request } from 'undici';
import {
  type AgentMediaJob,
  type BootOverride,
  type AgentMediaMount,
  type AgentMediaTransfer,
  LightsoutError,
  type MediaFetchParams,
  type MediaFetchResult,
  type MediaMountParams,
  type MediaStatusResult,
} from '@lightsout/shared';
import type { BmcDriver } from '../drivers/types.js';
import { MediaCache, type ResumePolicy, assertSha256 } from './cache.js';
import { type MediaAccess, MediaServer } from './media-server.js';
import { type MountStore, fileMountStore } from './mount-store.js';
import { type VirtualMediaDriver, type VirtualMediaSlotState, hasVirtualMedia, redactedImage } from './types.js';
import { MediaUrlSigner, clientFor } from './url-signer.js';

/**
 * The agent's part of the one action. Per image: pull from the relay over a
 * dial-back HTTP connection into the cache (streamed, SHA-256 verified). Per
 * server: a mount job that runs in the background while the relay polls —
 *
 *   mounting ─▶ (boot) setting-boot ─▶ resetting ─▶ booting
 *           └─▶ (no boot) mounted;     any step ─▶ failed (failedStep, error)
 *
 * and the mount itself (which image, since when, by whom, auto-eject time).
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

interface MountRecord extends AgentMediaMount {
  release: () => void;
  timer: NodeJS.Timeout | undefined;
  /** The override before a media boot that the BMC kept persistent: put back at eject. */
  restoreBoot?: BootOverride;
}

/** What the media server saw of one signed URL while a mount waits for proof. */
interface FetchWatch {
  fetched: boolean;
  refused: string | undefined;
  /** Resolves at the next access of the URL. */
  next: () => Promise<void>;
  dispose: () => void;
}

export class MediaService {
  readonly cache: MediaCache;
  readonly server: MediaServer;
  private readonly transfers = new Map<string, AgentMediaTransfer>();
  private readonly mounts = new Map<string, MountRecord>();
  private readonly jobs = new Map<string, AgentMediaJob>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly aborts = new Set<AbortController>();
  private readonly mountStore: MountStore;
  private readonly accessListeners = new Set<(access: MediaAccess) => void>();
  private readonly jobRuns = new Map<string, Promise<void>>();

  constructor(
    private readonly options: MediaServiceOptions,
    private readonly context: MediaServiceContext,
  ) {
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
        for (const listener of this.accessListeners) listener(access);
      },
    });
    this.mountStore = fileMountStore(options.mountsFile, (reason) =>
      context.logger.warn({ file: options.mountsFile, reason }, 'the saved mounts cannot be read; starting with none (images the BMCs still have inserted are not shown)'),
    );
  }

  async start(): Promise<string> {
    await this.cache.open();
    this.restoreMounts();
    const url = await this.server.start();
    this.context.logger.info({ url, cacheBytes: this.options.cacheBytes }, 'media server listening');
    if (!this.options.publicBaseUrl && /^(127\.|localhost$|::1$)/.test(this.options.listenHost)) {
      this.context.logger.warn({ url }, 'the media server listens on loopback: BMCs cannot fetch images from it; set media.listen in the agent config to the agent address on the out-of-band network');
    }
    return url;
  }

  async stop(): Promise<void> {
    for (const controller of this.aborts) controller.abort();
    for (const mount of this.mounts.values()) clearTimeout(mount.timer);
    await Promise.allSettled([...this.running]);
    await this.server.stop();
  }

  // ── media.fetch ─────────────────────────────────────────────────────────
  fetch(params: MediaFetchParams): MediaFetchResult {
    assertSha256(params.sha256);
    this.assertServer(params.serverId);
    if (!params.pullPath.startsWith('/v1/agent/media/')) throw new LightsoutError('BAD_REQUEST', 'pullPath must be a relay media path');
    if (this.cache.has(params.sha256)) return { cached: true };
    if (this.transfers.get(params.sha256)?.state === 'fetching') return { cached: false };
    const transfer: AgentMediaTransfer = { sha256: params.sha256, state: 'fetching', bytes: 0, size: params.size };
    this.transfers.set(params.sha256, transfer);
    this.context.onTransfer?.('started');
    this.track(
      this.pull(params, transfer).then(
        () => {
          transfer.state = 'cached';
          transfer.bytes = params.size;
          this.context.onTransfer?.('cached');
        },
        (error: unknown) => {
          transfer.state = 'failed';
          this.context.onTransfer?.('failed');
          transfer.error = errorOf(error);
          this.context.logger.warn({ sha256: params.sha256, err: error }, 'image transfer from the relay failed');
        },
      ),
    );
    return { cached: false };
  }

  /**
   * GET the image from the relay (agent JWT) and stream it into the cache:
   * backpressure end to end. A cut transfer resumes where the disk ends with
   * `Range: bytes=N-` (the cache's resume policy); each try signs a fresh
   * JWT, since a try may start long after the first one's token expired.
   */
  private async pull(params: MediaFetchParams, transfer: AgentMediaTransfer): Promise<void> {
    const controller = new AbortController();
    this.aborts.add(controller);
    const open = async (offset: number) => {
      if (controller.signal.aborted) throw new LightsoutError('AGENT_OFFLINE', 'the agent is stopping');
      // undici's stream API (not fetch): Node streams all the way, no WHATWG stream hop per chunk
      const response = await request(new URL(params.pullPath, `${this.context.relay()}/`), {
        headers: { authorization: `Bearer ${await this.context.signJwt()}`, ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
        signal: controller.signal,
        highWaterMark: 1024 * 1024,
      });
      const expected = offset > 0 ? 206 : 200;
      if (response.statusCode !== expected) {
        const body = await response.body.text().catch(() => '');
        throw new LightsoutError('AGENT_OFFLINE', `relay refused the image transfer${offset > 0 ? ` from byte ${offset}` : ''}: HTTP ${response.statusCode}`, { details: { body: body.slice(0, 300) } });
      }
      if (offset > 0) this.context.logger.info({ sha256: params.sha256, offset }, 'image transfer resumed');
      return response.body;
    };
    try {
      await this.cache.ingest(params.sha256, params.size, open, (bytes) => {
        transfer.bytes = bytes;
      }, this.options.resume);
    } finally {
      this.aborts.delete(controller);
    }
  }

  // ── media.status ────────────────────────────────────────────────────────
  status(serverId: string, sha256?: string): MediaStatusResult {
    this.assertServer(serverId);
    let transfer: AgentMediaTransfer | null = null;
    if (sha256) {
      const size = this.cache.sizeOf(sha256);
      transfer = size !== undefined ? { sha256, state: 'cached', bytes: size, size } : (this.transfers.get(sha256) ?? { sha256, state: 'absent', bytes: 0, size: 0 });
    }
    const mount = this.mounts.get(serverId);
    return { transfer, mount: mount ? publicMount(mount) : null, job: this.jobs.get(serverId) ?? null };
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
    const current = this.jobs.get(params.serverId);
    if (current && !['booting', 'mounted', 'failed'].includes(current.step)) throw new LightsoutError('CONFLICT', `a mount is already running on ${params.serverId}`);
    const job: AgentMediaJob = { step: 'mounting', failedStep: null, error: null, quirks: [], powerAction: null };
    this.jobs.set(params.serverId, job);
    const run = this.runMount(params, driver, job);
    this.jobRuns.set(params.serverId, run);
    this.track(run);
    return { ...job };
  }

  /** Resolves when the server's current mount job has settled (mounted, booting or failed). */
  async settled(serverId: string): Promise<AgentMediaJob | null> {
    await this.jobRuns.get(serverId);
    return this.jobs.get(serverId) ?? null;
  }

  private async runMount(params: MediaMountParams, driver: BmcDriver & VirtualMediaDriver, job: AgentMediaJob): Promise<void> {
    const { serverId, sha256 } = params;
    try {
      await this.clearSlot(serverId, driver, params.replace === true);
      const release = this.cache.pin(sha256);
      // ends in the user's file name: BMCs show the URL's last segment as the image name
      const url = this.server.urlFor(sha256, clientFor(driver.bmcHost), this.options.urlTtlSeconds, params.filename);
      // watch before inserting: many BMCs read the image before they answer InsertMedia
      const watch = this.watchFetches(new URL(url).pathname);
      let inserted = false;
      try {
        const answer = await driver.mediaInsert(url);
        inserted = true;
        job.quirks = answer.quirks;
        job.confirmedBy = await this.confirmFetched(driver, watch, answer.quirks);
      } catch (error) {
        release();
        // leave the slot as it was: what we inserted and nobody read comes out again
        if (inserted) await driver.mediaEject().catch((ejectError: unknown) => this.context.logger.warn({ serverId, err: ejectError }, 'could not eject the image the BMC never read'));
        throw error;
      } finally {
        watch.dispose();
      }
      const now = Date.now();
      const autoEjectAt = this.options.autoEjectSeconds > 0 ? new Date(now + this.options.autoEjectSeconds * 1000).toISOString() : null;
      const record: MountRecord = { sha256, filename: params.filename, mountedAt: new Date(now).toISOString(), mountedBy: params.mountedBy, autoEjectAt, release, timer: undefined };
      this.armAutoEject(serverId, record, now);
      this.mounts.set(serverId, record);
      this.saveMounts();
      this.context.logger.info({ serverId, sha256, filename: params.filename, by: params.mountedBy, quirks: job.quirks, confirmedBy: job.confirmedBy }, 'virtual media mounted');
      if (!params.boot) {
        job.step = 'mounted';
        return;
      }
      job.step = 'setting-boot';
      const before = await driver.bootGet();
      const boot = await driver.mediaBootOnce();
      if (boot.warning) {
        if (boot.persistent && boot.device === 'cd') {
          // the BMC ignored "Once": put the previous override back when the image is ejected
          record.restoreBoot = before;
          this.saveMounts();
          job.warning = `${boot.warning}; the previous boot override (${describeOverride(before)}) is restored when the image is ejected`;
        } else {
          job.warning = boot.warning;
        }
        this.context.logger.warn({ serverId, asked: 'cd once', got: boot, restoreAtEject: record.restoreBoot ?? null }, 'the BMC did not keep the boot override as asked');
      }
      job.step = 'resetting';
      const { power } = await driver.powerGet();
      job.powerAction = power === 'on' ? 'reset' : 'on';
      await driver.powerSet(job.powerAction);
      job.step = 'booting';
      this.context.logger.info({ serverId, powerAction: job.powerAction }, 'booting from virtual media');
    } catch (error) {
      job.failedStep = job.step === 'setting-boot' || job.step === 'resetting' ? job.step : 'mounting';
      job.step = 'failed';
      job.error = errorOf(error);
      this.context.logger.warn({ serverId, step: job.failedStep, err: error }, 'virtual media mount failed');
    }
  }

  // ── media.eject ─────────────────────────────────────────────────────────
  async eject(serverId: string): Promise<void> {
    this.assertServer(serverId);
    const job = this.jobs.get(serverId);
    if (job && !['booting', 'mounted', 'failed'].includes(job.step)) throw new LightsoutError('CONFLICT', `a mount is running on ${serverId}; eject when it has finished`);
    await this.ejectMount(serverId);
    this.jobs.delete(serverId);
  }

  /** Ejects at the BMC and forgets the mount record; the job (if any) is the caller's business. */
  private async ejectMount(serverId: string): Promise<void> {
    const driver = this.context.mediaDriverFor(serverId);
    if (!driver) throw new LightsoutError('BMC_UNSUPPORTED', `virtual media needs Redfish on the BMC of ${serverId}`);
    await driver.mediaEject();
    const record = this.mounts.get(serverId);
    if (record) {
      clearTimeout(record.timer);
      record.release();
      if (record.restoreBoot) await this.restoreBoot(serverId, driver, record.restoreBoot);
    }
    this.mounts.delete(serverId);
    this.saveMounts();
    this.context.logger.info({ serverId }, 'virtual media ejected');
  }

  /** The eject timer runs to the record's own deadline: after a restart, what is left of it (at once if it passed meanwhile). */
  private armAutoEject(serverId: string, record: MountRecord, now: number): void {
    if (!record.autoEjectAt) return;
    const deadline = Date.parse(record.autoEjectAt);
    // setTimeout waits at most 2^31-1 ms (24.8 days): a later deadline is re-armed when that runs out.
    const wait = Math.min(Math.max(0, deadline - now), 2 ** 31 - 1);
    record.timer = setTimeout(() => {
      if (Date.now() < deadline) return this.armAutoEject(serverId, record, Date.now());
      this.track(this.autoEject(serverId, record));
    }, wait);
    record.timer.unref();
  }

  private saveMounts(): void {
    try {
      this.mountStore.save(this.mounts);
    } catch (error) {
      // The mount itself happened; only its memory across a restart is at risk.
      this.context.logger.warn({ file: this.options.mountsFile, err: error }, 'could not save the mounts; an agent restart will forget them');
    }
  }

  /**
   * Mounts saved by the previous run: kept (the BMC still has them
   * inserted, and their media URLs stay valid: the signing key is in the
   * state directory too), their images pinned in the cache again and their
   * automatic ejects re-armed. A server no longer in the configuration is
   * dropped.
   */
  private restoreMounts(): void {
    const now = Date.now();
    for (const [serverId, saved] of this.mountStore.load()) {
      if (!this.context.hasServer(serverId)) {
        this.context.logger.warn({ serverId, sha256: saved.sha256 }, 'a saved mount is for a server this agent no longer has; dropped');
        continue;
      }
      const cached = this.cache.has(saved.sha256);
      if (!cached) this.context.logger.warn({ serverId, sha256: saved.sha256 }, 'a saved mount\'s image is no longer in the cache: the BMC cannot read it; eject it');
      const record: MountRecord = { ...saved, release: cached ? this.cache.pin(saved.sha256) : () => undefined, timer: undefined };
      this.armAutoEject(serverId, record, now);
      this.mounts.set(serverId, record);
      this.context.logger.info({ serverId, sha256: saved.sha256, mountedBy: saved.mountedBy, autoEjectAt: saved.autoEjectAt }, 'virtual media mount restored');
    }
    this.saveMounts();
  }

  private async autoEject(serverId: string, record: MountRecord): Promise<void> {
    if (this.mounts.get(serverId) !== record) return;
    try {
      await this.eject(serverId);
      this.context.logger.info({ serverId, sha256: record.sha256 }, 'virtual media ejected automatically');
    } catch (error) {
      this.context.logger.warn({ serverId, err: error }, 'automatic eject failed');
    }
  }

  /**
   * Empties the slot before a mount. An image this agent inserted (its
   * record, or its media server's URL) is ejected; anyone else's only with
   * `replace`, else MEDIA_IN_USE: a mount never throws away someone's
   * medium unasked.
   */
  private async clearSlot(serverId: string, driver: BmcDriver & VirtualMediaDriver, replace: boolean): Promise<void> {
    const slot = await driver.mediaGet();
    if (!slot.inserted) {
      if (this.mounts.has(serverId)) this.forgetMount(serverId); // ejected behind our back
      return;
    }
    const ours = this.mounts.has(serverId) || (slot.image !== null && this.server.url !== '' && slot.image.startsWith(`${this.server.url}/`));
    if (!ours && !replace) {
      throw new LightsoutError('MEDIA_IN_USE', `the virtual CD of ${serverId} holds an image this agent did not insert (${redactedImage(slot.image) ?? 'no URL given'})`, {
        hint: 'mount with --replace (API: "replace": true) to eject it and mount yours',
        details: { image: redactedImage(slot.image), connectedVia: slot.connectedVia },
      });
    }
    if (!ours) this.context.logger.warn({ serverId, image: redactedImage(slot.image) }, 'ejecting an image this agent did not insert (replace requested)');
    if (this.mounts.has(serverId)) await this.ejectMount(serverId);
    else await driver.mediaEject();
  }

  private forgetMount(serverId: string): void {
    const record = this.mounts.get(serverId);
    if (!record) return;
    clearTimeout(record.timer);
    record.release();
    this.mounts.delete(serverId);
    this.saveMounts();
  }

  private watchFetches(path: string): FetchWatch {
    let wake: () => void = () => undefined;
    let pending = new Promise<void>((resolve) => (wake = resolve));
    const watch: FetchWatch = {
      fetched: false,
      refused: undefined,
      next: () => pending,
      dispose: () => this.accessListeners.delete(listener),
    };
    const listener = (access: MediaAccess) => {
      if (access.path !== path) return;
      if (access.method === 'GET' && (access.status === 200 || access.status === 206)) watch.fetched = true;
      else if (access.status >= 400) watch.refused = `${access.status}${access.reason ? ` (${access.reason})` : ''} from ${access.remoteAddress}`;
      wake();
      pending = new Promise<void>((resolve) => (wake = resolve));
    };
    this.accessListeners.add(listener);
    return watch;
  }

  /**
   * A BMC's 204 to InsertMedia (or PATCH) proves nothing: a static mockup
   * stores the JSON and never reads a byte. The mount counts only once the
   * media server saw the BMC GET the signed URL, or the slot reports the
   * image inserted and connected (DSP2046 ConnectedVia other than
   * NotConnected); else MEDIA_NOT_FETCHED after a bounded wait.
   */
  private async confirmFetched(driver: VirtualMediaDriver, watch: FetchWatch, quirks: readonly string[]): Promise<'fetched' | 'connected'> {
    const waitMs = this.options.fetchWaitMs ?? 30_000;
    const deadline = Date.now() + waitMs;
    let slot: VirtualMediaSlotState | undefined;
    for (let round = 0; round < 10_000; round += 1) {
      if (watch.fetched) return 'fetched';
      if (watch.refused) {
        throw new LightsoutError('MEDIA_NOT_FETCHED', `the BMC tried to read the image and the agent's media server refused it: ${watch.refused}`, {
          hint: 'the BMC reaches the agent from another address than configured: check the server\'s redfish URL (media URLs are signed for the BMC address)',
          details: { quirks },
        });
      }
      slot = await driver.mediaGet();
      if (slot.inserted && slot.connectedVia !== null && slot.connectedVia !== 'NotConnected') return 'connected';
      const left = deadline - Date.now();
      if (left <= 0) break;
      await Promise.race([watch.next(), delay(Math.min(1000, left))]);
    }
    throw new LightsoutError('MEDIA_NOT_FETCHED', `the BMC accepted the image but did not read it within ${Math.round(waitMs / 1000)} s, and does not report it connected (ConnectedVia: ${slot?.connectedVia ?? 'absent'})`, {
      hint: "check that the BMC reaches the agent's media server (media.listen / media.publicUrl) on the out-of-band network; some BMCs (static mockups) accept an image they never fetch",
      details: { quirks, slot: slot ? { inserted: slot.inserted, connectedVia: slot.connectedVia } : null },
    });
  }

  private async restoreBoot(serverId: string, driver: BmcDriver, previous: BootOverride): Promise<void> {
    try {
      const restored = await driver.bootSet({ device: previous.device, persistent: previous.persistent, uefi: previous.uefi });
      this.context.logger.info({ serverId, restored }, 'boot override from before the media boot restored');
    } catch (error) {
      this.context.logger.warn({ serverId, previous, err: error }, 'could not restore the boot override from before the media boot');
    }
  }

  private assertServer(serverId: string): void {
    if (!this.context.hasServer(serverId)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${serverId}`);
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }
}

function describeOverride(override: BootOverride): string {
  return override.device === 'none' ? 'none' : `${override.device}, ${override.persistent ? 'persistent' : 'once'}`;
}

function publicMount(record: MountRecord): AgentMediaMount {
  return { sha256: record.sha256, filename: record.filename, mountedAt: record.mountedAt, mountedBy: record.mountedBy, autoEjectAt: record.autoEjectAt };
}

function errorOf(error: unknown): { code: string; message: string; hint?: string } {
  if (error instanceof LightsoutError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : 'internal error' };
}

function logAccess(logger: Logger, access: MediaAccess): void {
  const level = access.status >= 400 ? 'warn' : 'info';
  logger[level]({ media: access }, 'media access');
}

function loadOrCreateKey(file: string): Uint8Array {
  try {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (key.length >= 32) return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600 });
  return key;
}

export function isVirtualMediaDriver(driver: BmcDriver | undefined): driver is BmcDriver & VirtualMediaDriver {
  return driver !== undefined && hasVirtualMedia(driver);
}
