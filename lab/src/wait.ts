/**
 * The one bounded wait of the tests: for state that has no event to await
 * (another process's view of the world, a counter in a stream). `probe` runs
 * until it gives a value other than undefined or false, which is returned;
 * the pause between probes is not a synchronisation sleep, the condition is.
 * A probe that throws is tried again (the peer may not be up yet); after
 * `timeoutMs` the wait fails naming `what` (a function is asked then, to
 * describe the state at that moment) and the last error the probe threw.
 */
export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Pause between probes; default 25 ms. A probe that is itself a request sets a longer one. */
  intervalMs?: number;
}

export async function waitFor<T>(what: string | (() => string), probe: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  // Bounded by the deadline.
  for (;;) {
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
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
