import { performance } from 'node:perf_hooks';

/**
 * Notices when the agent's event loop stood still (SIGSTOP, a starved
 * machine, a long pause) so that console input that waited in the socket
 * meanwhile is not run on the BMC seconds late. A timer ticks every
 * `tickMs`; after a freeze the loop reads the sockets before it runs timers,
 * so the first input after the freeze finds the last tick older than
 * `staleAfterMs`. Input stays stale until the timer has run again (all that
 * the kernel buffered for a console is read in that first pass) and for
 * `settleMs` after the stall (the rest of a larger backlog). Monotonic clock
 * only: no clock shared with the client or the relay is needed.
 */
export class StallWatch {
  private lastTick: number;
  private stallEndedAt = Number.NEGATIVE_INFINITY;
  /** A stall was detected and the timer has not run since. */
  private inStall = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: { staleAfterMs: number; tickMs?: number; settleMs?: number; now?: () => number }) {
    this.now = options.now ?? (() => performance.now());
    this.lastTick = this.now();
  }

  start(): void {
    if (this.timer) return;
    this.lastTick = this.now();
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 100);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The timer ran: the loop is moving. Exposed for tests with an injected clock. */
  tick(): void {
    const now = this.now();
    if (now - this.lastTick > this.options.staleAfterMs) this.stallEndedAt = now;
    this.lastTick = now;
    this.inStall = false;
  }

  /** Whether input arriving now waited through a stall (discard it). */
  inputIsStale(): boolean {
    const now = this.now();
    if (now - this.lastTick > this.options.staleAfterMs) {
      this.stallEndedAt = now;
      this.inStall = true;
    }
    return this.inStall || now - this.stallEndedAt <= (this.options.settleMs ?? 100);
  }
}
