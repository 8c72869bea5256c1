interface Stoppable {
  stop(): Promise<void>;
}

type Started<T extends Record<string, () => Promise<Stoppable>>> = { [K in keyof T]: Awaited<ReturnType<T[K]>> };

/**
 * Starts several peers in parallel. If any fails, the ones that did start
 * are stopped before the error is rethrown — with a bare Promise.all their
 * handles would be lost and the processes would outlive the test.
 */
export async function startPeers<T extends Record<string, () => Promise<Stoppable>>>(starters: T): Promise<Started<T>> {
  const names = Object.keys(starters) as (keyof T & string)[];
  const outcomes = await Promise.allSettled(names.map((name) => starters[name]!()));
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) {
    await Promise.all(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.stop() : undefined)));
    throw failure.reason;
  }
  return Object.fromEntries(names.map((name, index) => [name, (outcomes[index] as PromiseFulfilledResult<Stoppable>).value])) as Started<T>;
}

/** Stops every peer given, in parallel, ignoring undefined (a beforeAll that never ran). */
export async function stopPeers(peers: Record<string, Stoppable> | undefined): Promise<void> {
  if (peers) await Promise.all(Object.values(peers).map((peer) => peer.stop()));
}
