/**
 * How many stream dial-backs this agent lets be in their handshake at once.
 *
 * When a gateway dies, every console it carried resumes at another gateway
 * within seconds, and each resume is a dial-back: a TCP connection, an HTTP
 * upgrade with a fresh agent token, `ws`'s set-up. With 1,000 consoles all
 * of them were in flight together, slowed by one another on the same cores,
 * long enough for their objects to reach V8's old generation and for their
 * socket buffers to fragment malloc's arenas, and each failover raised the
 * agent's RSS for good. Taken 32 at a time, four failovers of 1,000
 * consoles moved it by 1–2 MiB, and the consoles streamed again as soon as
 * before: the handshakes are CPU work on the same cores either way
 * (docs/benchmarks.md, soak, "Dial-backs taken in turn").
 */
export const DIAL_BACK_CONCURRENCY = 32;

/** At most `limit` tasks run at once; the rest wait, first come first served. */
export class DialBackGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number = DIAL_BACK_CONCURRENCY) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('the dial-back concurrency must be a positive integer');
  }

  /** Dial-backs in their handshake now. */
  get inFlight(): number {
    return this.running;
  }

  /** Dial-backs waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running += 1;
    // A finishing task hands its turn straight to the first waiter (release), so `running` already counts this one.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running -= 1;
    else next();
  }
}
