import { setTimeout as delay } from 'node:timers/promises';
import { Value } from 'typebox/value';
import { LightsoutError, PowerAwaitParams, type PowerAwaitResult, type PowerState } from '@lightsout/shared';
import type { DriverRegistry } from '../drivers/registry.js';
import { withTimeout } from './dispatcher.js';

export interface PowerAwaitOptions {
  registry: DriverRegistry;
  /** Every read is a fresh observation: the poller reports a change upstream at once. */
  observe: (serverId: string, power: PowerState) => void;
  /** Ceiling for one read. */
  readTimeoutMs: number;
}

/**
 * `power.await`: confirms an accepted power action by reading the BMC here,
 * where a read is one UDP exchange on the driver's pooled session, instead
 * of the relay sending one `power.get` per read. Per server:
 *
 *   wait intervals[i] ─▶ read ─▶ off seen: needsOff cleared
 *     ─▶ target seen (and no off still owed) ─▶ confirmed
 *     ─▶ deadline passed                      ─▶ not confirmed (last state read)
 *     ─▶ superseded (a newer action or await on the server) ─▶ not confirmed
 *
 * A read that fails is not an observation: the loop reads again at the next
 * interval. Between reads nothing is held (no session pool slot, no per-server
 * slot), so a thousand waits cost only their reads.
 */
export class PowerAwaiter {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly options: PowerAwaitOptions) {}

  /** A newer action on the server ends a wait for an older one (the relay has replaced it too). */
  supersede(serverId: string): void {
    this.running.get(serverId)?.abort();
    this.running.delete(serverId);
  }

  async run(input: Record<string, unknown>): Promise<PowerAwaitResult> {
    if (!Value.Check(PowerAwaitParams, input)) {
      const first = [...Value.Errors(PowerAwaitParams, input)][0];
      throw new LightsoutError('BAD_REQUEST', `invalid params for power.await: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`);
    }
    const params = input;
    const { registry } = this.options;
    if (!registry.hasServer(params.serverId)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${params.serverId}`);
    const driver = registry.driverFor(params.serverId);
    if (driver === undefined) throw new LightsoutError('BMC_UNSUPPORTED', `no driver on this agent can reach ${params.serverId}`);

    this.supersede(params.serverId);
    const own = new AbortController();
    this.running.set(params.serverId, own);
    const deadline = performance.now() + params.deadlineMs;
    let needsOff = params.needsOff;
    let power: PowerState = 'unknown';
    let reads = 0;
    try {
      for (let round = 0; ; round += 1) {
        const remaining = deadline - performance.now();
        const wait = Math.min(params.intervalsMs[Math.min(round, params.intervalsMs.length - 1)]!, Math.max(0, remaining));
        await delay(wait, undefined, { signal: own.signal }).catch(() => undefined);
        if (own.signal.aborted) return { power, confirmed: false, reads };
        try {
          power = (await withTimeout(driver.powerGet(), Math.max(1, Math.min(this.options.readTimeoutMs, deadline - performance.now())), `power read of ${params.serverId}`)).power;
          reads += 1;
          if (power === 'on' || power === 'off') this.options.observe(params.serverId, power);
        } catch {
          // Not an observation (BMC busy, timed out, session reopened): read again at the next interval.
        }
        if (power === 'off') needsOff = false;
        if (power === params.target && !needsOff) return { power, confirmed: true, reads };
        if (performance.now() >= deadline) return { power, confirmed: false, reads };
      }
    } finally {
      if (this.running.get(params.serverId) === own) this.running.delete(params.serverId);
    }
  }
}
