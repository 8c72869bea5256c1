import type { Connection } from 'ssh2';

/** What a live connection authenticated as: revoking either ends it. */
export interface ConnectionHolder {
  keyId: string;
  subject: string;
}

/**
 * The front door's authenticated connections, by the key that opened them
 * and by the account it belongs to, so that a removed key or a revoked
 * account (disabled, role or grants changed) ends every connection it holds
 * rather than only the consoles open at that moment.
 */
export class LiveConnections {
  private readonly byKey = new Map<string, Set<Connection>>();
  private readonly bySubject = new Map<string, Set<Connection>>();

  add(connection: Connection, holder: ConnectionHolder): void {
    addTo(this.byKey, holder.keyId, connection);
    addTo(this.bySubject, holder.subject, connection);
  }

  remove(connection: Connection, holder: ConnectionHolder): void {
    removeFrom(this.byKey, holder.keyId, connection);
    removeFrom(this.bySubject, holder.subject, connection);
  }

  /** Ends the connections a key opened; how many there were. */
  endKey(keyId: string): number {
    return endAll(this.byKey.get(keyId));
  }

  /** Ends the connections of one account, whatever key or certificate opened them; how many there were. */
  endSubject(subject: string): number {
    return endAll(this.bySubject.get(subject));
  }
}

function addTo(map: Map<string, Set<Connection>>, name: string, connection: Connection): void {
  let live = map.get(name);
  if (live === undefined) map.set(name, (live = new Set()));
  live.add(connection);
}

function removeFrom(map: Map<string, Set<Connection>>, name: string, connection: Connection): void {
  const live = map.get(name);
  live?.delete(connection);
  if (live?.size === 0) map.delete(name);
}

function endAll(live: Set<Connection> | undefined): number {
  if (live === undefined) return 0;
  // ssh2 sends SSH_MSG_DISCONNECT and closes the socket; the 'close' handler removes the connection.
  for (const connection of live) connection.end();
  return live.size;
}
