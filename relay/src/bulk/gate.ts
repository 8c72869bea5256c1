import type { BmcOperationFairness } from '../agents/fairness.js';

/**
 * Bounds a bulk job's BMC operations: at most `perAgent` in flight on one
 * agent and `total` across agents, each also holding a slot of the tenant's
 * fairness budget (agents/fairness.ts), waited for rather than refused.
 * Two queues per agent: confirmation reads go before operations not yet
 * started, so a power cycle's short off phase is read while it lasts
 * instead of behind the rest of the fleet's requests.
 */
export class BulkGate {
  private readonly running = new Map<string, number>();
  private runningTotal = 0;
  private readonly waiting = new Map<string, { urgent: Array<() => void>; normal: Array<() => void> }>();

  constructor(
    private readonly options: { tenant: string; perAgent: number; total: number; fairness: BmcOperationFairness },
  ) {}

  async run<T>(agentId: string, urgent: boolean, task: () => Promise<T>): Promise<T> {
    await this.acquire(agentId, urgent);
    let release: (() => void) | undefined;
    try {
      // Hold the tenant's slot on this agent too; another caller of the tenant may have it for now.
      for (;;) {
        release = this.options.fairness.tryAdmitQueued({ tenant: this.options.tenant, agentId });
        if (release !== undefined) break;
        await this.options.fairness.whenReleased();
      }
      return await task();
    } finally {
      release?.();
      this.releaseOwn(agentId);
    }
  }

  /** Operations of this job in flight on `agentId` (or on all agents). */
  inFlight(agentId?: string): number {
    return agentId === undefined ? this.runningTotal : (this.running.get(agentId) ?? 0);
  }

  private acquire(agentId: string, urgent: boolean): Promise<void> {
    if (this.canStart(agentId) && !this.waiting.has(agentId)) {
      this.start(agentId);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.queueOf(agentId);
      (urgent ? queue.urgent : queue.normal).push(() => {
        this.start(agentId);
        resolve();
      });
    });
  }

  private canStart(agentId: string): boolean {
    return (this.running.get(agentId) ?? 0) < this.options.perAgent && this.runningTotal < this.options.total;
  }

  private start(agentId: string): void {
    this.running.set(agentId, (this.running.get(agentId) ?? 0) + 1);
    this.runningTotal += 1;
  }

  private releaseOwn(agentId: string): void {
    this.running.set(agentId, (this.running.get(agentId) ?? 1) - 1);
    this.runningTotal -= 1;
    // This agent's queue first, then any agent held back only by the job-wide bound.
    this.wake(agentId);
    for (const other of this.waiting.keys()) {
      if (!this.canStart(other)) continue;
      this.wake(other);
    }
  }

  private wake(agentId: string): void {
    const queue = this.waiting.get(agentId);
    while (queue !== undefined && this.canStart(agentId)) {
      const next = queue.urgent.shift() ?? queue.normal.shift();
      if (next === undefined) break;
      next();
    }
    if (queue !== undefined && queue.urgent.length + queue.normal.length === 0) this.waiting.delete(agentId);
  }

  private queueOf(agentId: string): { urgent: Array<() => void>; normal: Array<() => void> } {
    let queue = this.waiting.get(agentId);
    if (queue === undefined) {
      queue = { urgent: [], normal: [] };
      this.waiting.set(agentId, queue);
    }
    return queue;
  }
}
