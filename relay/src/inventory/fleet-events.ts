import { type FleetEvent, type FleetEvents, LightsoutError, type SelList, type ServerView, selSeverity } from '@lightsout/shared';

/** The newest critical events the overview lists. */
export const FLEET_EVENT_LIMIT = 20;

export interface FleetEventOptions {
  /** Reads one server's event log through its agent (sel.list). */
  read(server: ServerView): Promise<SelList>;
  /** A server's log read within this long is not read again. */
  maxAgeMs: number;
  /** At most this many logs read for one request, the stalest first; the next request reads on. */
  readsPerRequest: number;
  /** At most this many reads in flight at once. */
  concurrency: number;
  now?: () => number;
}

type Reading = { at: number; events: FleetEvent[] } | { at: number; error: string };

/**
 * The fleet's recent critical event-log entries. No agent reads event logs
 * in the background, so the relay reads them on demand: each server's log
 * through its agent (the same sel.list a server's page asks for), kept for
 * `maxAgeMs`, at most `readsPerRequest` logs per request. A large fleet is
 * covered over several requests, and the answer says how many logs it holds
 * and how many it could not read, so a short list is never mistaken for a
 * quiet fleet. The caller passes the servers it may see (tenant, grants):
 * nothing of another server reaches it.
 */
export class FleetEventReader {
  readonly #readings = new Map<string, Reading>();
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #options: FleetEventOptions;
  readonly #now: () => number;

  constructor(options: FleetEventOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async collect(servers: readonly ServerView[]): Promise<FleetEvents> {
    const readable = servers.filter((server) => server.capabilities.includes('sel') && server.agent === 'online');
    const now = this.#now();
    const stale = readable
      .filter((server) => {
        const reading = this.#readings.get(keyOf(server));
        return !reading || now - reading.at >= this.#options.maxAgeMs;
      })
      .sort((left, right) => (this.#readings.get(keyOf(left))?.at ?? 0) - (this.#readings.get(keyOf(right))?.at ?? 0))
      .slice(0, this.#options.readsPerRequest);
    await runBounded(stale, this.#options.concurrency, (server) => this.#read(server));

    const events: FleetEvent[] = [];
    let read = 0;
    let failed = 0;
    let oldest: number | undefined;
    for (const server of readable) {
      const reading = this.#readings.get(keyOf(server));
      if (!reading) continue;
      oldest = Math.min(oldest ?? reading.at, reading.at);
      if ('error' in reading) {
        failed += 1;
        continue;
      }
      read += 1;
      events.push(...reading.events);
    }
    return {
      events: newestFirst(events).slice(0, FLEET_EVENT_LIMIT),
      servers: servers.length,
      read,
      failed,
      unread: readable.length - read - failed,
      noEventLog: servers.length - readable.length,
      oldestRead: oldest === undefined ? null : new Date(oldest).toISOString(),
      at: new Date(this.#now()).toISOString(),
    };
  }

  /** Forgets a server's reading (its log was cleared, or it left the fleet). */
  forget(server: Pick<ServerView, 'tenant' | 'id'>): void {
    this.#readings.delete(keyOf(server));
  }

  #read(server: ServerView): Promise<void> {
    const key = keyOf(server);
    const running = this.#inFlight.get(key);
    if (running) return running;
    const done = this.#options.read(server).then(
      (list) => {
        const events = list.entries
          .filter((entry) => selSeverity(entry) === 'critical')
          .map((entry) => ({ serverId: server.id, serverName: server.name, time: entry.time, sensor: entry.sensor, event: entry.event }));
        this.#readings.set(key, { at: this.#now(), events: newestFirst(events).slice(0, FLEET_EVENT_LIMIT) });
      },
      (error: unknown) => {
        // Turned away by the relay's own limits: not read, not unreadable; a later request reads it.
        if (error instanceof LightsoutError && error.code === 'RATE_LIMITED') return;
        this.#readings.set(key, { at: this.#now(), error: error instanceof LightsoutError ? error.code : 'INTERNAL' });
      },
    ).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, done);
    return done;
  }
}

const keyOf = (server: Pick<ServerView, 'tenant' | 'id'>) => `${server.tenant}\u0000${server.id}`;

/** Newest first; entries a BMC logged before its clock was set (no time) last. */
function newestFirst(events: readonly FleetEvent[]): FleetEvent[] {
  return [...events].sort((left, right) => {
    if (left.time === right.time) return 0;
    if (left.time === null) return 1;
    if (right.time === null) return -1;
    return Date.parse(right.time) - Date.parse(left.time);
  });
}

async function runBounded<T>(items: readonly T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
