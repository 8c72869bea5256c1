/**
 * Waits until `promise` settles (kept or broken, either way) or `ms` pass,
 * whichever comes first, and always clears its timer. For closing things
 * that may hang on a peer: a send to a receiver that stopped reading, a
 * catch-up behind an unreachable database, a bulk job still running.
 */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    () => undefined,
    () => undefined,
  );
  await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
