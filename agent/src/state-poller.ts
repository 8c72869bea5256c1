import type { Logger } from 'pino';
import { CONTROL_PROTOCOL_VERSION, LightsoutError, type BmcLinkStatus, type PowerState, type StateMessage } from '@lightsout/shared';
import type { DriverRegistry } from './drivers/registry.js';
import { withTimeout } from './control/dispatcher.js';

interface ServerState {
  power: PowerState;
  reachable: boolean;
  /** The driver's link status plus the last error; undefined for drivers that report none. */
  bmc?: BmcLinkStatus;
}

export interface PacingClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacingClock = { now: () => performance.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/**
 * Runs `work` over `items` with at most `concurrency` in flight, and starts
 * them evenly over `spreadMs`: item i starts no earlier than i × spreadMs / n
 * after the first. A fleet's poll is then a steady trickle of sessions, not a
 * burst at every interval that the agent's CPU and the BMC network pay for
 * at once. `stopped()` is checked before every start.
 */
export async function forEachPaced<T>(
  items: readonly T[],
  options: { concurrency: number; spreadMs: number; stopped?: () => boolean; clock?: PacingClock },
  work: (item: T) => Promise<void>,
): Promise<void> {
  const clock = options.clock ?? realClock;
  const concurrency = Math.max(1, options.concurrency);
  const spacing = items.length > 0 ? Math.max(0, options.spreadMs) / items.length : 0;
  const inFlight = new Set<Promise<void>>();
  const first = clock.now();
  for (const [index, item] of items.entries()) {
    if (options.stopped?.() === true) break;
    // Timers fire late under load, never early: whoever is overdue starts at once, in a batch.
    const wait = first + index * spacing - clock.now();
    if (wait >= 1) await clock.sleep(wait);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (options.stopped?.() === true) break;
    const task = work(item).finally(() => inFlight.delete(task));
    inFlight.add(task);
  }
  await Promise.all(inFlight);
}

/** A round is spread over this share of the poll interval, so it ends before the next one is due. */
export const POLL_SPREAD_SHARE = 0.8;
/** …but starts at least this many polls a second: a small fleet is polled at once, not over 24 s. */
export const POLL_MIN_STARTS_PER_SECOND = 100;

/** How long one round of `count` polls is spread over. */
export function pollSpreadMs(count: number, intervalMs: number): number {
  return Math.min(intervalMs * POLL_SPREAD_SHARE, (count * 1000) / POLL_MIN_STARTS_PER_SECOND);
}

export interface StatePollerOptions {
  registry: DriverRegistry;
  /** Grows when a server is adopted (addServer). */
  serverIds: string[];
  intervalMs: number;
  concurrency: number;
  timeoutMs: number;
  /** Returns false when the message could not be sent (connection down). */
  send: (message: StateMessage) => boolean;
  logger: Logger;
  /** Every poll, with its error when it failed (metrics). */
  onPolled?: (serverId: string, seconds: number, error: unknown) => void;
  /** Every finished round, with its wall time (metrics). */
  onRound?: (seconds: number) => void;
}

/**
 * Polls each server's power state and reports changes upstream as `state`
 * messages. A round runs at most `concurrency` polls at once, spread over
 * most of the interval (pollSpreadMs) for a fleet large enough to need it. Servers without a driver are skipped: the relay shows them as
 * `unknown` rather than the agent inventing a state. After a reconnect,
 * `resend()` reports every known state again, because the relay rebuilt its
 * view from our inventory and knows nothing else.
 */
export class StatePoller {
  readonly #options: StatePollerOptions;
  readonly #known = new Map<string, ServerState>();
  /** States that changed while the connection was down: sent on the next chance. */
  readonly #unsent = new Set<string>();
  /** Servers whose BMC rejected the credentials at the last poll. */
  readonly #rejected = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: StatePollerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    void this.pollNow();
    this.#timer = setInterval(() => void this.pollNow(), this.#options.intervalMs);
  }

  /** One full round; a round still running is joined, not doubled. */
  pollNow(): Promise<void> {
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * Records a power state learnt outside the poll (the answer to a power
   * request), so the relay hears about a change at once, not a poll later.
   */
  observe(serverId: string, power: PowerState): void {
    const previous = this.#known.get(serverId);
    if (previous?.power === power && previous.reachable) return;
    const bmc = this.#options.registry.driverFor(serverId)?.linkStatus?.();
    this.#known.set(serverId, { power, reachable: true, ...(bmc === undefined ? {} : { bmc }) });
    if (bmc?.credentials !== 'rejected') this.#rejected.delete(serverId);
    this.#unsent.add(serverId);
    this.#flush();
  }

  /** Polls one server now (an admin asked to retry its credentials) and reports a change at once. */
  async pollServer(serverId: string): Promise<void> {
    await this.#pollOne(serverId);
    this.#flush();
  }

  /** The last state this poller holds for a server. */
  stateOf(serverId: string): { power: PowerState; reachable: boolean; bmc?: BmcLinkStatus } | undefined {
    return this.#known.get(serverId);
  }

  /** How many servers' BMCs rejected the credentials at their last poll. */
  get credentialsRejected(): number {
    return this.#rejected.size;
  }

  /** Polls a server adopted while the agent runs from now on, starting at once. */
  addServer(serverId: string): void {
    if (!this.#options.serverIds.includes(serverId)) this.#options.serverIds.push(serverId);
    void this.pollServer(serverId).catch(() => undefined);
  }

  /** Sends every known state (after a reconnect). */
  resend(): void {
    for (const serverId of this.#known.keys()) this.#unsent.add(serverId);
    this.#flush();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #round(): Promise<void> {
    const { registry, serverIds, concurrency, intervalMs } = this.#options;
    const pollable = serverIds.filter((serverId) => registry.protocolFor(serverId) !== undefined);
    const began = performance.now();
    await forEachPaced(pollable, { concurrency, spreadMs: pollSpreadMs(pollable.length, intervalMs), stopped: () => this.#stopped }, async (serverId) => {
      await this.#pollOne(serverId);
      // Reported as they come in: a 10,000-server round must not hold every change until its end.
      this.#flush();
    });
    this.#flush();
    if (!this.#stopped) this.#options.onRound?.((performance.now() - began) / 1000);
  }

  async #pollOne(serverId: string): Promise<void> {
    const { registry, timeoutMs, logger } = this.#options;
    if (this.#stopped) return;
    const driver = registry.driverFor(serverId);
    if (driver === undefined) return;
    let state: ServerState;
    let failure: { code: string; message: string } | undefined;
    const began = performance.now();
    try {
      const { power } = await withTimeout(driver.powerGet(), timeoutMs, `power poll of ${serverId}`);
      state = { power, reachable: true };
      this.#options.onPolled?.(serverId, (performance.now() - began) / 1000, undefined);
    } catch (error) {
      this.#options.onPolled?.(serverId, (performance.now() - began) / 1000, error);
      failure = error instanceof LightsoutError ? { code: error.code, message: error.message.slice(0, 512) } : { code: 'INTERNAL', message: 'power poll failed' };
      logger.debug({ serverId, err: error }, 'power poll failed');
      state = { power: 'unknown', reachable: false };
    }
    const link = driver.linkStatus?.();
    if (link !== undefined || failure !== undefined) state.bmc = { ...link, ...(failure === undefined ? {} : { error: failure }) };
    const previous = this.#known.get(serverId);
    if (state.bmc?.credentials === 'rejected') this.#rejected.add(serverId);
    else this.#rejected.delete(serverId);
    if (state.bmc?.credentials === 'rejected' && previous?.bmc?.credentials !== 'rejected') {
      logger.warn({ serverId, retryAt: state.bmc.retryAt, reason: failure?.message }, 'the BMC rejected the credentials; holding off logins so the account is not locked');
    }
    if (previous?.power === state.power && previous.reachable === state.reachable && JSON.stringify(previous.bmc) === JSON.stringify(state.bmc)) return;
    this.#known.set(serverId, state);
    this.#unsent.add(serverId);
  }

  #flush(): void {
    if (this.#stopped) return;
    for (const serverId of [...this.#unsent]) {
      const state = this.#known.get(serverId)!;
      const sent = this.#options.send({ v: CONTROL_PROTOCOL_VERSION, type: 'state', serverId, power: state.power, reachable: state.reachable, ...(state.bmc === undefined ? {} : { bmc: state.bmc }) });
      if (!sent) return;
      this.#unsent.delete(serverId);
    }
  }
}
