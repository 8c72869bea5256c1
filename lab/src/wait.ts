/**
 * The one bounded wait of the tests: for state that has no promise to
 * await (another process's view of the world, a counter in a stream).
 * `probe` runs until it gives a value other than undefined or false, which
 * is returned. Between probes it pauses `intervalMs` — not a synchronisation
 * sleep, the condition is — or, given `wake`, until the state says it
 * changed (an event), so an in-process wait re-checks exactly when it may
 * have become true. A probe that throws is tried again (the peer may not be
 * up yet); after `timeoutMs` the wait fails naming `what` (a function is
 * asked then, to describe the state at that moment) and the last error the
 * probe threw.
 */
export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Pause between probes; default 25 ms. A probe that is itself a request sets a longer one. */
  intervalMs?: number;
  /**
   * Event-driven instead of polled: called once with a callback to call
   * whenever the state may have changed; returns what unsubscribes it. The
   * probe then runs at each wake (and once at the start), never on a timer.
   */
  wake?: (wake: () => void) => () => void;
}

export async function waitFor<T>(what: string | (() => string), probe: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  // A wake during a probe counts: the next pause ends at once.
  let woken: boolean;
  let resume: (() => void) | undefined;
  const unsubscribe = options.wake?.(() => {
    woken = true;
    resume?.();
  });
  try {
    // Bounded by the deadline.
    for (;;) {
      woken = false;
      try {
        const value = await probe();
        if (value !== undefined && value !== false) return value;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= deadline) {
        const described = typeof what === 'string' ? what : what();
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
      }
      if (unsubscribe === undefined) {
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      } else if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          resume = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        resume = undefined;
      }
    }
  } finally {
    unsubscribe?.();
  }
}

/**
 * waitFor for in-process state (bytes counted, a client's state), in the
 * argument order the stream tests read best: looks again every 5 ms and
 * fails after `timeoutMs` naming `what`.
 */
export async function until(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  await waitFor(what, check, { timeoutMs, intervalMs: 5 });
}
