import { LightsoutError } from '@lightsout/shared';

/**
 * At most `limit` driver operations run at once on one server; the rest wait
 * in that server's own FIFO. One BMC's backlog (a tenant flooding SEL reads)
 * then holds a few of the agent's shared IPMI session slots
 * (ipmi/pool.ts) instead of all of them, and another server's operation
 * starts at once. A waiter whose caller gave up (signal aborted) leaves the
 * queue without running.
 */
export class PerServerLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('per-server limit must be a positive integer');
  }

  async run<T>(key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if ((this.active.get(key) ?? 0) >= this.limit) await this.wait(key, signal);
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

  private wait(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const abandon = () => {
        const index = queue.indexOf(start);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0 && this.waiting.get(key) === queue) this.waiting.delete(key);
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
    next?.();
  }
}
