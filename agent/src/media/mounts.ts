import type { Logger } from 'pino';
import type { AgentMediaMount, BootOverride } from '@lightsout/shared';
import { failureFields } from '../logger.js';
import type { BmcDriver } from '../drivers/types.js';
import type { MediaCache } from './cache.js';
import { type MountStore, fileMountStore } from './mount-store.js';
import { type VirtualMediaDriver, redactedImage } from './types.js';

/**
 * What is mounted where: one record per server, kept on disk
 * (mount-store.ts) so an agent restart neither forgets an image a BMC still
 * has inserted nor its automatic eject. Each record pins its image in the
 * cache and owns its eject timer.
 */
export interface MountRecord extends AgentMediaMount {
  release: () => void;
  timer: NodeJS.Timeout | undefined;
  /** The override before a media boot that the BMC kept persistent: put back at eject. */
  restoreBoot?: BootOverride;
}

export interface MountRegistryOptions {
  mountsFile: string;
  /** Eject automatically this long after mounting (0 = never). */
  autoEjectSeconds: number;
}

export interface MountRegistryContext {
  logger: Logger;
  hasServer: (serverId: string) => boolean;
  track: (work: Promise<unknown>) => void;
  /** The automatic eject of `serverId` is due (the service checks no job runs there). */
  autoEject: (serverId: string) => Promise<void>;
}

export class MountRegistry {
  private readonly mounts = new Map<string, MountRecord>();
  private readonly store: MountStore;

  constructor(
    private readonly cache: MediaCache,
    private readonly options: MountRegistryOptions,
    private readonly context: MountRegistryContext,
  ) {
    this.store = fileMountStore(options.mountsFile, (reason) =>
      context.logger.warn({ file: options.mountsFile, reason }, 'the saved mounts cannot be read; starting with none (images the BMCs still have inserted are not shown)'),
    );
  }

  has(serverId: string): boolean {
    return this.mounts.has(serverId);
  }

  publicOf(serverId: string): AgentMediaMount | null {
    const record = this.mounts.get(serverId);
    return record ? { sha256: record.sha256, filename: record.filename, mountedAt: record.mountedAt, mountedBy: record.mountedBy, autoEjectAt: record.autoEjectAt } : null;
  }

  /** Records a mount the BMC was seen to take; `release` unpins its image. */
  add(serverId: string, mount: { sha256: string; filename: string; mountedBy: string }, release: () => void): MountRecord {
    const now = Date.now();
    const autoEjectAt = this.options.autoEjectSeconds > 0 ? new Date(now + this.options.autoEjectSeconds * 1000).toISOString() : null;
    const record: MountRecord = { ...mount, mountedAt: new Date(now).toISOString(), autoEjectAt, release, timer: undefined };
    this.armAutoEject(serverId, record, now);
    this.mounts.set(serverId, record);
    this.save();
    return record;
  }

  /** The BMC kept the media boot persistent: `previous` is put back at eject. */
  restoreBootAtEject(record: MountRecord, previous: BootOverride): void {
    record.restoreBoot = previous;
    this.save();
  }

  /** Ejects at the BMC and forgets the record (putting back the boot override the media boot left persistent). */
  /** Ejects the slot; answers the name of what was in it (our filename, else the BMC's redacted URL), or null when it was empty. */
  async eject(serverId: string, driver: BmcDriver & VirtualMediaDriver): Promise<string | null> {
    const before = await driver.mediaEject();
    const record = this.mounts.get(serverId);
    const ejected = before.inserted ? (record?.filename ?? redactedImage(before.image) ?? 'an image without a URL') : null;
    if (record) {
      clearTimeout(record.timer);
      record.release();
      if (record.restoreBoot) await this.restoreBoot(serverId, driver, record.restoreBoot);
    }
    this.mounts.delete(serverId);
    this.save();
    this.context.logger.info({ serverId, ejected }, 'virtual media ejected');
    return ejected;
  }

  /** The image left the slot behind our back: drop the record without touching the BMC. */
  forget(serverId: string): void {
    const record = this.mounts.get(serverId);
    if (!record) return;
    clearTimeout(record.timer);
    record.release();
    this.mounts.delete(serverId);
    this.save();
  }

  stop(): void {
    for (const record of this.mounts.values()) clearTimeout(record.timer);
  }

  /**
   * Mounts saved by the previous run: kept (the BMC still has them
   * inserted, and their media URLs stay valid: the signing key is in the
   * state directory too), their images pinned in the cache again and their
   * automatic ejects re-armed. A server no longer in the configuration is
   * dropped.
   */
  restore(): void {
    const now = Date.now();
    for (const [serverId, saved] of this.store.load()) {
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
    this.save();
  }

  /** The eject timer runs to the record's own deadline: after a restart, what is left of it (at once if it passed meanwhile). */
  private armAutoEject(serverId: string, record: MountRecord, now: number): void {
    if (!record.autoEjectAt) return;
    const deadline = Date.parse(record.autoEjectAt);
    // setTimeout waits at most 2^31-1 ms (24.8 days): a later deadline is re-armed when that runs out.
    const wait = Math.min(Math.max(0, deadline - now), 2 ** 31 - 1);
    record.timer = setTimeout(() => {
      if (Date.now() < deadline) return this.armAutoEject(serverId, record, Date.now());
      this.context.track(this.autoEject(serverId, record));
    }, wait);
    record.timer.unref();
  }

  private async autoEject(serverId: string, record: MountRecord): Promise<void> {
    if (this.mounts.get(serverId) !== record) return;
    try {
      await this.context.autoEject(serverId);
      this.context.logger.info({ serverId, sha256: record.sha256 }, 'virtual media ejected automatically');
    } catch (error) {
      this.context.logger.warn({ serverId, ...failureFields(error) }, 'automatic eject failed');
    }
  }

  private save(): void {
    try {
      this.store.save(this.mounts);
    } catch (error) {
      // The mount itself happened; only its memory across a restart is at risk.
      this.context.logger.warn({ file: this.options.mountsFile, err: error }, 'could not save the mounts; an agent restart will forget them');
    }
  }

  private async restoreBoot(serverId: string, driver: BmcDriver, previous: BootOverride): Promise<void> {
    try {
      const restored = await driver.bootSet({ device: previous.device, persistent: previous.persistent, uefi: previous.uefi });
      this.context.logger.info({ serverId, restored }, 'boot override from before the media boot restored');
    } catch (error) {
      this.context.logger.warn({ serverId, previous, ...failureFields(error) }, 'could not restore the boot override from before the media boot');
    }
  }
}
