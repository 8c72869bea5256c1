import type { Logger } from 'pino';
import type { PerServerLimiter } from './control/per-server-limiter.js';
import { withTimeout } from './control/dispatcher.js';
import type { DriverRegistry } from './drivers/registry.js';
import type { SensorHistoryStore } from './sensor-history.js';
import { forEachPaced, POLL_SPREAD_SHARE } from './state-poller.js';

/** Why a server was not read in a pass (a metric label: a closed set). */
export type SampleSkip = 'backoff' | 'unreachable' | 'credentials' | 'busy' | 'recent' | 'full';

/** A reading a minute: 720 kept samples are the last 12 hours. */
export const DEFAULT_SENSORS_INTERVAL_MS = 60_000;

/**
 * A sensor read is dozens of IPMI commands (one per sensor) or a few Redfish
 * GETs, so a handful at once keeps up: at 1 s a read, 8 at once read 5,000
 * servers in 48 s of a 60 s interval.
 */
export const DEFAULT_SENSORS_CONCURRENCY = 8;

/** A failing BMC is tried again after 1, 2, 4, 8, then every 16 passes (16 minutes at the default interval). */
export const SAMPLE_BACKOFF_MAX_PASSES = 16;

/** The passes to skip after `failures` failures in a row (≥ 1): the next pass after one failure. */
export function backoffPasses(failures: number): number {
  return Math.min(SAMPLE_BACKOFF_MAX_PASSES, 2 ** Math.min(Math.max(0, failures - 1), 30));
}

export interface SamplerClock {
  /** Monotonic milliseconds (pacing). */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Milliseconds since the epoch: the time a reading is kept under. */
  wallNow(): number;
}

/** Resolves late under load, never early; the timer and the listener go with it. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const realClock: SamplerClock = { now: () => performance.now(), sleep, wallNow: () => Date.now() };

export interface SensorSamplerOptions {
  registry: DriverRegistry;
  /** Every server now (grows when one is adopted); servers without a driver are skipped. */
  serverIds: () => readonly string[];
  store: SensorHistoryStore;
  /** Milliseconds from the start of one pass to the start of the next; 0 = never sample. */
  intervalMs: number;
  concurrency: number;
  timeoutMs: number;
  /** The dispatcher's: a server with a user's operation running or waiting is left to the user. */
  limiter: PerServerLimiter;
  /**
   * True when the power poller's last poll found the BMC unreachable: a sensor read would only wait out
   * its timeout holding one of `concurrency` slots. The power poll, far cheaper, says when it is back.
   */
  unreachable?: (serverId: string) => boolean;
  logger: Logger;
  clock?: SamplerClock;
  /** Every read, with its error when it failed (metrics). */
  onSampled?: (serverId: string, seconds: number, error: unknown) => void;
  onSkipped?: (reason: SampleSkip) => void;
  /** Every finished pass, with its wall time (metrics). */
  onPass?: (seconds: number) => void;
}

/**
 * Reads every server's sensors once per interval into the sensor history, so
 * a server's chart has data although nobody opened its sensors before. A
 * pass is spread evenly over most of the interval (POLL_SPREAD_SHARE; never a
 * burst of the whole fleet) with at most `concurrency` reads at once. The
 * sampler gives way: it skips a server whose BMC has a user's operation
 * running or queued (and holds one of its PerServerLimiter slots while it
 * reads, so a user's request arriving meanwhile still starts at once on the
 * other), one a user read within half an interval (that reading is already
 * kept), one whose BMC rejected the credentials (the driver holds off logins
 * so the account is not locked; the power poller notices when it is fixed),
 * one the power poller last found unreachable, one that failed lately
 * (backoffPasses), and one the store has no room for.
 */
export class SensorSampler {
  readonly #options: SensorSamplerOptions;
  readonly #clock: SamplerClock;
  readonly #stop = new AbortController();
  /** serverId → failures in a row and the pass before which it is not read again. */
  readonly #failing = new Map<string, { failures: number; nextPass: number }>();
  #pass = 0;
  #loop: Promise<void> | undefined;

  constructor(options: SensorSamplerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
  }

  get enabled(): boolean {
    return this.#options.intervalMs > 0;
  }

  /** Seconds between this agent's own readings of a server; 0 when it does not sample it. */
  intervalSecondsFor(serverId: string): number {
    return this.enabled && this.#options.registry.protocolFor(serverId) !== undefined ? Math.round(this.#options.intervalMs / 1000) : 0;
  }

  /** Servers held off after failures now. */
  get backingOff(): number {
    return this.#failing.size;
  }

  start(): void {
    if (!this.enabled || this.#loop !== undefined || this.#stop.signal.aborted) return;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { intervalMs } = this.#options;
    while (!this.#stop.signal.aborted) {
      const began = this.#clock.now();
      try {
        await this.#runPass();
      } catch (error) {
        // A bug in one pass must not end sampling for the agent's life.
        this.#options.logger.error({ err: error }, 'sensor sampling pass failed');
      }
      const wait = began + intervalMs - this.#clock.now();
      if (wait > 0) await this.#clock.sleep(wait, this.#stop.signal);
    }
  }

  async #runPass(): Promise<void> {
    const { registry, store, concurrency, intervalMs } = this.#options;
    this.#pass += 1;
    const pass = this.#pass;
    const servers = this.#options.serverIds().filter((serverId) => registry.protocolFor(serverId) !== undefined);
    // Once the store is full, the servers it holds are the fleet: the rest are not paced for.
    const sampled = servers.filter((serverId) => store.canKeep(serverId));
    for (let skipped = servers.length - sampled.length; skipped > 0; skipped--) this.#options.onSkipped?.('full');
    const began = this.#clock.now();
    const clock = { now: () => this.#clock.now(), sleep: (ms: number) => this.#clock.sleep(ms, this.#stop.signal) };
    await forEachPaced(sampled, { concurrency, spreadMs: intervalMs * POLL_SPREAD_SHARE, stopped: () => this.#stop.signal.aborted, clock }, (serverId) => this.#sampleOne(serverId, pass));
    if (!this.#stop.signal.aborted) this.#options.onPass?.((this.#clock.now() - began) / 1000);
  }

  async #sampleOne(serverId: string, pass: number): Promise<void> {
    const { registry, store, limiter, timeoutMs, intervalMs, logger } = this.#options;
    const skip = (reason: SampleSkip) => this.#options.onSkipped?.(reason);
    const failing = this.#failing.get(serverId);
    if (failing !== undefined && pass < failing.nextPass) return skip('backoff');
    const driver = registry.driverFor(serverId);
    if (driver === undefined) return;
    if (driver.linkStatus?.().credentials === 'rejected') return skip('credentials');
    if (this.#options.unreachable?.(serverId) === true) return skip('unreachable');
    if (!store.canKeep(serverId)) return skip('full');
    const last = store.lastAt(serverId);
    if (last !== undefined && this.#clock.wallNow() - last < intervalMs / 2) return skip('recent');
    if (limiter.running(serverId) + limiter.queued(serverId) > 0) return skip('busy');
    const settled = new AbortController();
    const began = this.#clock.now();
    try {
      const { sensors } = await withTimeout(limiter.run(serverId, settled.signal, () => driver.sensors()), timeoutMs, `sensor sample of ${serverId}`);
      store.sample(serverId, this.#clock.wallNow(), sensors);
      this.#failing.delete(serverId);
      this.#options.onSampled?.(serverId, (this.#clock.now() - began) / 1000, undefined);
    } catch (error) {
      const failures = (failing?.failures ?? 0) + 1;
      this.#failing.set(serverId, { failures, nextPass: pass + backoffPasses(failures) });
      logger.debug({ serverId, err: error, failures }, 'sensor sample failed');
      this.#options.onSampled?.(serverId, (this.#clock.now() - began) / 1000, error);
    } finally {
      settled.abort(settled);
    }
  }
}
