import type { Logger } from 'pino';
import { CONTROL_PROTOCOL_VERSION, type PowerState, type StateMessage } from '@lightsout/shared';
import type { DriverRegistry } from './drivers/registry.js';
import { withTimeout } from './control/dispatcher.js';

interface ServerState {
  power: PowerState;
  reachable: boolean;
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
    this.#known.set(serverId, { power, reachable: true });
    this.#unsent.add(serverId);
    this.#flush();
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
    const { registry, serverIds, concurrency, timeoutMs, logger } = this.#options;
    const pollable = serverIds.filter((serverId) => registry.protocolFor(serverId) !== undefined);
    await forEachBounded(pollable, concurrency, async (serverId) => {
      if (this.#stopped) return;
      const driver = registry.driverFor(serverId);
      if (driver === undefined) return;
      let state: ServerState;
      try {
        const { power } = await withTimeout(driver.powerGet(), timeoutMs, `power poll of ${serverId}`);
        state = { power, reachable: true };
      } catch (error) {
        logger.debug({ serverId, err: error }, 'power poll failed');
        state = { power: 'unknown', reachable: false };
      }
      const previous = this.#known.get(serverId);
      if (previous?.power === state.power && previous.reachable === state.reachable) return;
      this.#known.set(serverId, state);
      this.#unsent.add(serverId);
    });
    this.#flush();
  }

  #flush(): void {
    if (this.#stopped) return;
    for (const serverId of [...this.#unsent]) {
      const state = this.#known.get(serverId)!;
      const sent = this.#options.send({ v: CONTROL_PROTOCOL_VERSION, type: 'state', serverId, power: state.power, reachable: state.reachable });
      if (!sent) return;
      this.#unsent.delete(serverId);
    }
  }
}
