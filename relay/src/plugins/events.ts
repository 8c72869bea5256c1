import { LightsoutError, type ServerView, StreamCloseCode } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { canSeeTenant, listServers, toServerView } from '../inventory/servers.js';
import { bearerToken } from './identity.js';

export const EVENTS_SUBPROTOCOL = 'lightsout.events.v1';
const BEARER_PROTOCOL_PREFIX = 'bearer.';
/** A subscriber this far behind is disconnected instead of buffering without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export type EventMessage = { type: 'servers'; servers: ServerView[] } | { type: 'server'; server: ServerView } | { type: 'server-removed'; id: string };

/** Browsers cannot set headers on a WebSocket: the token may come as a `bearer.<jwt>` subprotocol. */
function tokenOf(request: FastifyRequest): string {
  const offered = request.headers['sec-websocket-protocol'];
  if (typeof offered === 'string') {
    for (const protocol of offered.split(',')) {
      const trimmed = protocol.trim();
      if (trimmed.startsWith(BEARER_PROTOCOL_PREFIX)) return trimmed.slice(BEARER_PROTOCOL_PREFIX.length);
    }
  }
  return bearerToken(request.headers.authorization);
}

/** Revocations that narrow what a still-valid token sees: the feed re-reads its scope instead of ending. */
const NARROWING_REASONS = new Set(['grants changed', 'role changed']);

/**
 * `GET /v1/events` (WebSocket, subprotocol lightsout.events.v1): one
 * `servers` snapshot of what the caller may see, then `server` upserts and
 * `server-removed` as agents register, report state, come and go. Same
 * tenant scoping as GET /v1/servers. Closed (1008) when the access token
 * expires; the client reconnects with a fresh one. A revocation of the
 * caller (user disabled, API token revoked, password changed) closes it
 * with 4403 at once; a grant or role change sends a new `servers` snapshot
 * of the narrower scope (or closes, if the token no longer verifies).
 */
export default async function eventsPlugin(app: FastifyInstance): Promise<void> {
  const tokens = new WeakMap<FastifyRequest, string>();
  app.get(
    '/v1/events',
    {
      websocket: true,
      schema: { tags: ['servers'], hide: true },
      preValidation: async (request: FastifyRequest) => {
        const token = tokenOf(request);
        request.principal = await app.identity.principalFromToken(token);
        tokens.set(request, token);
      },
    },
    (socket: WebSocket, request) => {
      let principal = request.principal!;
      const token = tokens.get(request)!;
      let queue: Promise<void> = Promise.resolve();
      const send = (message: EventMessage) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(1013, 'subscriber too slow');
          return;
        }
        socket.send(JSON.stringify(message));
      };
      const enqueue = (work: () => Promise<void>) => {
        queue = queue.then(work).catch((error: unknown) => {
          request.log.error({ err: error }, 'event feed failed');
          socket.close(1011, 'internal error');
        });
      };
      const isOnline = (agentId: string) => app.agents.isOnline(agentId);
      const snapshot = async () => send({ type: 'servers', servers: (await listServers(app.store, principal)).map((row) => toServerView(row, isOnline, app.serverActivity)) });
      // Subscribe before the snapshot so no change falls between them; the queue keeps the order.
      const unsubscribe = app.serverEvents.subscribe((change) =>
        enqueue(async () => {
          for (const row of await listServers(app.store, principal, [...change.changed])) send({ type: 'server', server: toServerView(row, isOnline, app.serverActivity) });
          for (const [id, tenant] of change.removed) if (canSeeTenant(principal, tenant)) send({ type: 'server-removed', id });
        }),
      );
      const revoked = (reason: string) => {
        if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(StreamCloseCode.FORBIDDEN, reason);
      };
      const stopHearing = app.revocations.subscribe((notice) => {
        if (notice.kind !== 'subject' || notice.subject !== principal.subject) return;
        // Closed at once, before any queued update goes out; a narrowing re-reads the scope in order.
        if (!NARROWING_REASONS.has(notice.reason)) return revoked('access revoked');
        enqueue(async () => {
          try {
            principal = await app.identity.principalFromToken(token);
          } catch {
            return revoked('access revoked');
          }
          await snapshot();
        });
      });
      enqueue(snapshot);
      const expiry = setTimeout(() => socket.close(1008, 'access token expired'), Math.min(2 ** 31 - 1, Math.max(0, principal.expiresAt * 1000 - Date.now())));
      expiry.unref();
      socket.on('message', () => socket.close(1008, new LightsoutError('BAD_REQUEST', 'the event feed is one-way').message));
      socket.on('close', () => {
        unsubscribe();
        stopHearing();
        clearTimeout(expiry);
      });
    },
  );
}
