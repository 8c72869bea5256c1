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

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
}

export interface StatePollerOptions {
  registry: DriverRegistry;
  serverIds: readonly string[];
  intervalMs: number;
  concurrency: number;
  timeoutMs: number;
  /** Returns false when the message could not be sent (connection down). */
  send: (message: StateMessage) => boolean;
  logger: Logger;
}

/**
 * Polls each server's power state and reports changes upstream as `state`
 * messages. Servers without a driver are skipped: the relay shows them as
 * `unknown` rather than the agent inventing a state. After a reconnect,
 * `resend()` reports every known state again, because the relay rebuilt its
 * view from our inventory and knows nothing else.
 */
export class StatePoller {
  readonly #options: StatePollerOptions;
  readonly #known = new Map<string, ServerState>();
  /** States that changed while the connection was down: sent on the next chance. */
  readonly #unsent = new Set<string>();
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
    const { registry, serverIds, concurrency } = this.#options;
    const pollable = serverIds.filter((serverId) => registry.protocolFor(serverId) !== undefined);
    await forEachBounded(pollable, concurrency, (serverId) => this.#pollOne(serverId));
    this.#flush();
  }

  async #pollOne(serverId: string): Promise<void> {
    const { registry, timeoutMs, logger } = this.#options;
    if (this.#stopped) return;
    const driver = registry.driverFor(serverId);
    if (driver === undefined) return;
    let state: ServerState;
    let failure: { code: string; message: string } | undefined;
    try {
      const { power } = await withTimeout(driver.powerGet(), timeoutMs, `power poll of ${serverId}`);
      state = { power, reachable: true };
    } catch (error) {
      failure = error instanceof LightsoutError ? { code: error.code, message: error.message.slice(0, 512) } : { code: 'INTERNAL', message: 'power poll failed' };
      logger.debug({ serverId, err: error }, 'power poll failed');
      state = { power: 'unknown', reachable: false };
    }
    const link = driver.linkStatus?.();
    if (link !== undefined || failure !== undefined) state.bmc = { ...link, ...(failure === undefined ? {} : { error: failure }) };
    const previous = this.#known.get(serverId);
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
