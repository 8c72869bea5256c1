/** Resolves when `condition()` holds, re-checking on every `subscribe` callback; bounded by a deadline. */
export async function waitFor(condition: () => boolean, subscribe: (wake: () => void) => () => void, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  if (condition()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe(() => {
      if (!condition()) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}
