import type { ServerActivity, SessionCount } from '../inventory/activity.js';
import type { ClusterBus } from './bus.js';
import type { ReplicaRegistry } from './replicas.js';

const CHANNEL = 'servers.sessions';

/**
 * `{ from, seq, counts, full?, ask? }` on `servers.sessions`: a replica's live console legs per server
 * ([server id, count, subjects holding them], 0 when its last leg ended). `full`: every server of the replica (the others
 * replace what they had of it); `ask`: the sender just started or heard again, everyone answers in full.
 */
interface Message {
  from: string;
  /** The sender's message number (from 1 at its start): a late large message does not undo a newer one. */
  seq: number;
  counts: SessionCount[];
  full?: boolean;
  ask?: boolean;
}

/**
 * Every replica's server views count the console legs spliced at every
 * replica: a console opened through a gateway shows on the server at the
 * manager, and a manager asked for a console with control knows that
 * someone else holds one at a gateway (a takeover, which needs its right). Counts, not deltas, travel (a lost message is corrected by the
 * next one), sent one after the other and numbered (a large one, fetched
 * from the store, may be heard after a later one: the older is ignored), a replica that starts or hears again after a gap asks everyone
 * for theirs, and a replica that is gone (no heartbeat) takes its legs with
 * it. Returns the stop.
 */
export function shareServerSessions(activity: ServerActivity, bus: ClusterBus, replicas: ReplicaRegistry, onError: (error: unknown) => void): () => void {
  // One after the other: two NOTIFYs sent at once on two pooled connections may commit, and be heard, in either order,
  // and a count of 1 heard after the 0 that followed it would stay.
  let sending: Promise<void> = Promise.resolve();
  let seq = 0;
  const publish = (message: Omit<Message, 'from' | 'seq'>) => {
    const sent = { from: replicas.id, seq: (seq += 1), ...message } satisfies Message;
    sending = sending.then(() => bus.publish(CHANNEL, sent)).catch(onError);
  };
  activity.shareWith((entry) => publish({ counts: [entry] }));
  const unsubscribe = bus.subscribe(CHANNEL, (message) => {
    const { from, seq: number, counts, full, ask } = message as Message;
    if (from === replicas.id) return;
    replicas.heardFrom(from);
    activity.receive(from, counts, full === true, number);
    if (ask === true) publish({ counts: activity.localCounts(), full: true });
  });
  const askEveryone = () => publish({ counts: activity.localCounts(), full: true, ask: true });
  const stopGone = replicas.onGone((replicaId) => activity.forget(replicaId));
  const stopReconnect = bus.onReconnect(askEveryone);
  void bus.ready().then(askEveryone);
  return () => {
    unsubscribe();
    stopGone();
    stopReconnect();
  };
}
