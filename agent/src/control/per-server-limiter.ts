import { LightsoutError } from '@lightsout/shared';

/**
 * Operations one server may have waiting behind the running ones before more
 * are refused at once. The relay holds at most `perTenantPerAgent` (16 by
 * default) of a tenant's operations on an agent and a server has one tenant,
 * so only a flood from a relay that ignores its own fairness gets here.
 */
export const DEFAULT_QUEUED_PER_SERVER = 64;

export interface PerServerLimiterOptions {
  /** Operations waiting per server; default DEFAULT_QUEUED_PER_SERVER. */
  maxQueued?: number;
  /** The first refusal of a burst on `key` (the queue was full); called again only after the queue has half emptied. */
  onFull?: (key: string, load: { running: number; queued: number }) => void;
}

/** A refusal because the server's queue is full: answered, not logged one by one (onFull says it once). */
export class ServerQueueFullError extends LightsoutError {
  constructor(key: string, running: number, queued: number) {
    super('BMC_BUSY', `${key} has ${running} operation${running === 1 ? '' : 's'} running and ${queued} waiting; try again shortly`);
  }
}

/**
 * At most `limit` driver operations run at once on one server; the rest wait
 * in that server's own FIFO, at most `maxQueued` of them: beyond that an
 * operation is refused at once (BMC_BUSY), so a flood costs the agent a
 * bounded queue, not memory per request. One BMC's backlog (a tenant flooding
 * SEL reads) then holds a few of the agent's shared IPMI session slots
 * (ipmi/pool.ts) instead of all of them, and another server's operation
 * starts at once. A waiter whose caller gave up (signal aborted) leaves the
 * queue without running.
 */
export class PerServerLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Servers in a burst of refusals: reported once until their queue half empties. */
  private readonly full = new Set<string>();
  readonly maxQueued: number;
  private readonly onFull: PerServerLimiterOptions['onFull'];

  constructor(
    readonly limit: number,
    options: PerServerLimiterOptions = {},
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('per-server limit must be a positive integer');
    this.maxQueued = options.maxQueued ?? DEFAULT_QUEUED_PER_SERVER;
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) throw new RangeError('per-server queue must be a non-negative integer');
    this.onFull = options.onFull;
  }

  async run<T>(key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (this.running(key) >= this.limit) {
      if (this.queued(key) >= this.maxQueued) throw this.refuse(key);
      await this.wait(key, signal);
    }
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    try {
      return await task();
    } finally {
      this.release(key);
    }
  }

  /** Operations running on `key` now. */
  running(key: string): number {
    return this.active.get(key) ?? 0;
  }

  /** Operations waiting for `key`. */
  queued(key: string): number {
    return this.waiting.get(key)?.length ?? 0;
  }

  private refuse(key: string): ServerQueueFullError {
    const load = { running: this.running(key), queued: this.queued(key) };
    if (!this.full.has(key)) {
      this.full.add(key);
      this.onFull?.(key, load);
    }
    return new ServerQueueFullError(key, load.running, load.queued);
  }

  private wait(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const abandon = () => {
        const index = queue.indexOf(start);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0 && this.waiting.get(key) === queue) this.waiting.delete(key);
        this.settle(key);
        reject(new LightsoutError('BMC_BUSY', `gave up waiting for ${key}: ${this.limit} operations were already running on it`));
      };
      const start = () => {
        signal.removeEventListener('abort', abandon);
        resolve();
      };
      if (signal.aborted) return abandon();
      signal.addEventListener('abort', abandon, { once: true });
      queue.push(start);
    });
  }

  private release(key: string): void {
    const remaining = (this.active.get(key) ?? 1) - 1;
    if (remaining <= 0) this.active.delete(key);
    else this.active.set(key, remaining);
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.waiting.delete(key);
    this.settle(key);
    next?.();
  }

  /** A burst of refusals on `key` is over once its queue is half empty. */
  private settle(key: string): void {
    if (this.full.has(key) && this.queued(key) <= this.maxQueued / 2) this.full.delete(key);
  }
}
