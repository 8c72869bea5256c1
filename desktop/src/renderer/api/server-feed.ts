import type { ServerView } from '@lightsout/shared';
import type { RelayClient } from './relay-client.js';

/**
 * Live server state, isolated here so the rest of the app only sees
 * "the current list". Prefers a push feed (`GET /v1/events` WebSocket: one
 * `servers` snapshot, then `server` upserts and `server-removed`), and falls
 * back to polling `GET /v1/servers` while the socket is down. A feed that
 * does not open (the relay restarting, or one without `/v1/events`) is tried
 * again with a backoff, so live updates come back by themselves after an
 * outage instead of staying on polling until a reload.
 */
export type FeedMode = 'connecting' | 'live' | 'polling' | 'error';

/** Retry delays of the event feed: doubling from the first to the cap, back to the first once it opened. */
export const FEED_RETRY_FIRST_MS = 1000;
export const FEED_RETRY_MAX_MS = 15_000;

export interface ServerFeedOptions {
  client: RelayClient;
  accessToken(): Promise<string | null>;
  onServers(servers: ServerView[]): void;
  onMode(mode: FeedMode, detail?: string): void;
  pollMs?: number;
}

type EventMessage =
  | { type: 'servers'; servers: ServerView[] }
  | { type: 'server'; server: ServerView }
  | { type: 'server-removed'; id: string };

export function startServerFeed(options: ServerFeedOptions): () => void {
  const pollMs = options.pollMs ?? 3000;
  let stopped = false;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let socket: WebSocket | undefined;
  /** The feed socket being opened, so stopping also cancels a connect in progress. */
  let connecting: WebSocket | undefined;
  let byId = new Map<string, ServerView>();
  let retryMs = FEED_RETRY_FIRST_MS;
  /**
   * Bumped whenever a feed socket opens: a poll answered after that is older than what the feed sends (its
   * snapshot and every change since), so it is dropped instead of overwriting them — a server left pending
   * for good in the tree when a poll started as the feed dropped came back after the feed's updates.
   */
  let feedOpenings = 0;

  const publish = () => options.onServers([...byId.values()]);

  const poll = async () => {
    pollTimer = undefined;
    if (stopped) return;
    const openingsBefore = feedOpenings;
    try {
      const servers = await options.client.servers();
      if (stopped) return;
      if (socket || feedOpenings !== openingsBefore) return;
      byId = new Map(servers.map((server) => [server.id, server]));
      publish();
      if (!socket) options.onMode('polling');
    } catch (error) {
      if (!stopped) options.onMode('error', error instanceof Error ? error.message : String(error));
    }
    if (!stopped && !socket) pollTimer = setTimeout(() => void poll(), pollMs);
  };

  const connectEvents = async () => {
    retryTimer = undefined;
    if (stopped) return;
    const token = await options.accessToken().catch(() => null);
    if (stopped) return;
    if (!token) {
      scheduleRetry();
      return;
    }
    const url = new URL('/v1/events', options.client.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let opened = false;
    const events = new WebSocket(url, ['lightsout.events.v1', `bearer.${token}`]);
    connecting = events;
    events.onopen = () => {
      opened = true;
      feedOpenings += 1;
      retryMs = FEED_RETRY_FIRST_MS;
      connecting = undefined;
      socket = events;
      if (pollTimer) clearTimeout(pollTimer);
      pollTimer = undefined;
      options.onMode('live');
    };
    events.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let message: EventMessage;
      try {
        message = JSON.parse(event.data) as EventMessage;
      } catch {
        return;
      }
      if (message.type === 'servers') byId = new Map(message.servers.map((server) => [server.id, server]));
      else if (message.type === 'server') byId.set(message.server.id, message.server);
      else if (message.type === 'server-removed') byId.delete(message.id);
      else return;
      publish();
    };
    events.onclose = () => {
      if (socket === events) socket = undefined;
      if (connecting === events) connecting = undefined;
      if (stopped) return;
      // Polling carries the list until the feed is back; a feed that did not open is
      // tried less and less often (the relay is down or restarting, or has no feed).
      if (!opened) retryMs = Math.min(retryMs * 2, FEED_RETRY_MAX_MS);
      scheduleRetry();
      if (!pollTimer) void poll();
    };
  };

  const scheduleRetry = () => {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => void connectEvents(), retryMs);
  };

  options.onMode('connecting');
  void poll();
  void connectEvents();
  return () => {
    stopped = true;
    if (pollTimer) clearTimeout(pollTimer);
    if (retryTimer) clearTimeout(retryTimer);
    socket?.close(1000);
    connecting?.close(1000);
  };
}
