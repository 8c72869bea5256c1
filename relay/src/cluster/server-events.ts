import type { ServerEvents, SharedServerChange } from '../inventory/events.js';
import type { ClusterBus } from './bus.js';

const CHANNEL = 'servers.changed';

/** `{ from, changed, removed }` on `servers.changed`: a replica's server changes, for the other replicas' event feeds. */
interface Message extends SharedServerChange {
  from: string;
}

/**
 * Every replica's `/v1/events` subscribers see every change: changes made
 * here are published on the bus, changes published elsewhere are told to
 * the subscribers here (each replica re-reads the servers from the store
 * and scopes them per subscriber, as for its own changes). Returns the stop.
 */
export function shareServerEvents(events: ServerEvents, bus: ClusterBus, replicaId: string, onError: (error: unknown) => void): () => void {
  events.shareWith((change) => {
    bus.publish(CHANNEL, { from: replicaId, ...change } satisfies Message).catch(onError);
  });
  return bus.subscribe(CHANNEL, (message) => {
    const { from, changed, removed } = message as Message;
    if (from !== replicaId) events.receive({ changed, removed });
  });
}
