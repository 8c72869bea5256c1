/**
 * Bounds how many BMC sessions run at once across every IPMI driver of the
 * agent: a fleet poll of 1,000 BMCs must not open 1,000 sockets and
 * handshakes in the same instant.
 */
export class SessionPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit = 64) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('pool limit must be a positive integer');
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  get inUse(): number {
    return this.active;
  }
}

export const defaultSessionPool = new SessionPool(64);
