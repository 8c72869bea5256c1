import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type AgentMediaJob, type BootOverride, LightsoutError, type MediaMountParams } from '@lightsout/shared';
import { failureFields } from '../logger.js';
import type { BmcDriver } from '../drivers/types.js';
import type { MediaCache } from './cache.js';
import { errorOf } from './errors.js';
import type { MediaAccess, MediaServer } from './media-server.js';
import type { MountRegistry } from './mounts.js';
import { type VirtualMediaDriver, type VirtualMediaSlotState, redactedImage } from './types.js';
import { clientFor } from './url-signer.js';

/**
 * The mount job of one server, run in the background while the relay polls:
 *
 *   mounting ─▶ (boot) setting-boot ─▶ resetting ─▶ booting
 *           └─▶ (no boot) mounted;     any step ─▶ failed (failedStep, error)
 *
 * A job moves only along these transitions (`advance`); booting, mounted
 * and failed are final.
 */
type JobStep = AgentMediaJob['step'];
const TRANSITIONS: Readonly<Record<JobStep, readonly JobStep[]>> = {
  mounting: ['setting-boot', 'mounted', 'failed'],
  'setting-boot': ['resetting', 'failed'],
  resetting: ['booting', 'failed'],
  booting: [],
  mounted: [],
  failed: [],
};
const FINAL: readonly JobStep[] = ['booting', 'mounted', 'failed'];

function advance(job: AgentMediaJob, to: JobStep): void {
  if (!TRANSITIONS[job.step].includes(to)) throw new LightsoutError('INTERNAL', `mount job cannot go from ${job.step} to ${to}`);
  job.step = to;
}

export interface MountJobsOptions {
  /** How long a media URL stays valid: BMCs read the CD for the whole install. */
  urlTtlSeconds: number;
  /** How long, after the BMC accepted the image, to wait for proof that it has it (default 30 s). */
  fetchWaitMs?: number;
}

export interface MountJobsContext {
  cache: MediaCache;
  server: MediaServer;
  mounts: MountRegistry;
  logger: Logger;
  track: (work: Promise<unknown>) => void;
}

/** What the media server saw of one signed URL while a mount waits for proof. */
interface FetchWatch {
  fetched: boolean;
  refused: string | undefined;
  /** Resolves at the next access of the URL. */
  next: () => Promise<void>;
  dispose: () => void;
}

export class MountJobs {
  private readonly jobs = new Map<string, AgentMediaJob>();
  private readonly runs = new Map<string, Promise<void>>();
  private readonly accessListeners = new Set<(access: MediaAccess) => void>();

  constructor(
    private readonly options: MountJobsOptions,
    private readonly context: MountJobsContext,
  ) {}

  /** Every access of the media server (the service forwards them): a waiting job looks for its URL. */
  onAccess(access: MediaAccess): void {
    for (const listener of this.accessListeners) listener(access);
  }

  of(serverId: string): AgentMediaJob | null {
    return this.jobs.get(serverId) ?? null;
  }

  /** True while a job runs on the server (not yet booting, mounted or failed). */
  isRunning(serverId: string): boolean {
    const job = this.jobs.get(serverId);
    return job !== undefined && !FINAL.includes(job.step);
  }

  forget(serverId: string): void {
    this.jobs.delete(serverId);
  }

  start(params: MediaMountParams, driver: BmcDriver & VirtualMediaDriver): AgentMediaJob {
    if (this.isRunning(params.serverId)) throw new LightsoutError('CONFLICT', `a mount is already running on ${params.serverId}`);
    const job: AgentMediaJob = { step: 'mounting', failedStep: null, error: null, quirks: [], powerAction: null };
    this.jobs.set(params.serverId, job);
    const run = this.run(params, driver, job);
    this.runs.set(params.serverId, run);
    this.context.track(run);
    return { ...job };
  }

  /** Resolves when the server's current job has settled (mounted, booting or failed). */
  async settled(serverId: string): Promise<AgentMediaJob | null> {
    await this.runs.get(serverId);
    return this.jobs.get(serverId) ?? null;
  }

  private async run(params: MediaMountParams, driver: BmcDriver & VirtualMediaDriver, job: AgentMediaJob): Promise<void> {
    const { serverId, sha256 } = params;
    const { cache, server, mounts, logger } = this.context;
    try {
      await this.clearSlot(serverId, driver, params.replace === true);
      const release = cache.pin(sha256);
      // ends in the user's file name: BMCs show the URL's last segment as the image name
      const url = server.urlFor(sha256, clientFor(driver.bmcHost), this.options.urlTtlSeconds, params.filename);
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
        if (inserted) await driver.mediaEject().catch((ejectError: unknown) => logger.warn({ serverId, err: ejectError }, 'could not eject the image the BMC never read'));
        throw error;
      } finally {
        watch.dispose();
      }
      const record = mounts.add(serverId, { sha256, filename: params.filename, mountedBy: params.mountedBy }, release);
      logger.info({ serverId, sha256, filename: params.filename, by: params.mountedBy, quirks: job.quirks, confirmedBy: job.confirmedBy }, 'virtual media mounted');
      if (!params.boot) {
        advance(job, 'mounted');
        return;
      }
      advance(job, 'setting-boot');
      const before = await driver.bootGet();
      const boot = await driver.mediaBootOnce();
      if (boot.warning) {
        if (boot.persistent && boot.device === 'cd') {
          // the BMC ignored "Once": put the previous override back when the image is ejected
          mounts.restoreBootAtEject(record, before);
          job.warning = `${boot.warning}; the previous boot override (${describeOverride(before)}) is restored when the image is ejected`;
        } else {
          job.warning = boot.warning;
        }
        logger.warn({ serverId, asked: 'cd once', got: boot, restoreAtEject: record.restoreBoot ?? null }, 'the BMC did not keep the boot override as asked');
      }
      advance(job, 'resetting');
      const { power } = await driver.powerGet();
      job.powerAction = power === 'on' ? 'reset' : 'on';
      await driver.powerSet(job.powerAction);
      advance(job, 'booting');
      logger.info({ serverId, powerAction: job.powerAction }, 'booting from virtual media');
    } catch (error) {
      job.failedStep = job.step === 'setting-boot' || job.step === 'resetting' ? job.step : 'mounting';
      advance(job, 'failed');
      job.error = errorOf(error);
      logger.warn({ serverId, step: job.failedStep, ...failureFields(error) }, 'virtual media mount failed');
    }
  }

  /**
   * Empties the slot before a mount. An image this agent inserted (its
   * record, or its media server's URL) is ejected; anyone else's only with
   * `replace`, else MEDIA_IN_USE: a mount never throws away someone's
   * medium unasked.
   */
  private async clearSlot(serverId: string, driver: BmcDriver & VirtualMediaDriver, replace: boolean): Promise<void> {
    const { mounts, server, logger } = this.context;
    const slot = await driver.mediaGet();
    if (!slot.inserted) {
      if (mounts.has(serverId)) mounts.forget(serverId); // ejected behind our back
      return;
    }
    const ours = mounts.has(serverId) || (slot.image !== null && server.url !== '' && slot.image.startsWith(`${server.url}/`));
    if (!ours && !replace) {
      throw new LightsoutError('MEDIA_IN_USE', `the virtual CD of ${serverId} holds an image this agent did not insert (${redactedImage(slot.image) ?? 'no URL given'})`, {
        hint: 'mount with --replace (API: "replace": true) to eject it and mount yours',
        details: { image: redactedImage(slot.image), connectedVia: slot.connectedVia },
      });
    }
    if (!ours) logger.warn({ serverId, image: redactedImage(slot.image) }, 'ejecting an image this agent did not insert (replace requested)');
    if (mounts.has(serverId)) await mounts.eject(serverId, driver);
    else await driver.mediaEject();
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
}

function describeOverride(override: BootOverride): string {
  return override.device === 'none' ? 'none' : `${override.device}, ${override.persistent ? 'persistent' : 'once'}`;
}
