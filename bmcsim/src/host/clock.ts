/**
 * The host's only time source. Tests pass a manual clock so power sequences
 * run without waiting; the fleet uses the real one.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, milliseconds: number): ClockTimer;
}

export interface ClockTimer {
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, milliseconds) {
    const handle = setTimeout(callback, milliseconds);
    // A simulated host must never keep the process alive on its own.
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** A clock that moves only when told to: `advance(ms)` fires due timers in order. */
export class ManualClock implements Clock {
  private current = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { due: number; callback: () => void }>();

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, milliseconds: number): ClockTimer {
    const id = this.nextId++;
    this.timers.set(id, { due: this.current + Math.max(0, milliseconds), callback });
    return { cancel: () => this.timers.delete(id) };
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advance(milliseconds: number): void {
    const target = this.current + milliseconds;
    // Bounded: each iteration removes one timer; callbacks may add more, but
    // never more than a power sequence has steps.
    for (let guard = 0; guard < 10_000; guard++) {
      let nextId = -1;
      let nextDue = Infinity;
      for (const [id, timer] of this.timers) {
        if (timer.due <= target && timer.due < nextDue) {
          nextDue = timer.due;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.current = timer.due;
      timer.callback();
    }
    this.current = target;
  }
}
