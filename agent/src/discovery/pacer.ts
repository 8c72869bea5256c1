/**
 * Probes per second, enforced two ways: probes are spread evenly (one every
 * 1/rate seconds, catching up at most CATCH_UP_MS after a late timer, since
 * Node's timers fire at millisecond granularity), and no window of one
 * second ever holds more than `perSecond` of them (a ring of the last
 * `perSecond` grant times: the next grant waits until the oldest is a second
 * old). Grants are made in a timer callback and the probe leaves in the
 * continuation right after it, in the same tick, so the limit holds on the wire.
 */
export class ProbePacer {
  private readonly intervalMs: number;
  private readonly granted: Float64Array;
  private next = 0;
  private total = 0;
  private slot = Number.NEGATIVE_INFINITY;
  private readonly waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(perSecond) || perSecond < 1) throw new RangeError('probes per second must be a positive integer');
    this.intervalMs = 1000 / perSecond;
    this.granted = new Float64Array(perSecond);
  }

  /** Probes granted so far. */
  get count(): number {
    return this.total;
  }

  /** Resolves when one more probe may leave; rejects with PacerClosedError once closed (the scan was stopped). */
  take(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new PacerClosedError());
      this.waiters.push({ resolve, reject });
      // Granted from a timer, never inside take(): a grant made while the caller is still queueing more
      // probes would be used only when its code yields, later than the grant time the window counts.
      if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.drain();
        }, 0);
      }
    });
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new PacerClosedError());
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private drain(): void {
    if (this.timer !== undefined) return;
    while (this.waiters.length > 0) {
      const now = this.now();
      const windowFree = this.total < this.perSecond ? Number.NEGATIVE_INFINITY : this.granted[this.next]! + 1000 + WINDOW_MARGIN_MS;
      const earliest = Math.max(this.slot, windowFree);
      if (earliest > now) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.drain();
        }, Math.max(1, Math.ceil(earliest - now)));
        return;
      }
      this.granted[this.next] = now;
      this.next = (this.next + 1) % this.perSecond;
      this.total++;
      this.slot = Math.max(this.slot, now - CATCH_UP_MS) + this.intervalMs;
      this.waiters.shift()!.resolve();
    }
  }
}

/** How far behind schedule the pacer may catch up in a burst. */
const CATCH_UP_MS = 20;
/**
 * The grant and the send are one continuation apart, which a garbage collection or a busy tick can stretch
 * to milliseconds: this keeps a one-second window measured at the send within the limit too (the steady
 * rate stays within 2 % of the limit).
 */
const WINDOW_MARGIN_MS = 20;

export class PacerClosedError extends Error {
  constructor() {
    super('the scan was stopped');
    this.name = 'PacerClosedError';
  }
}
