import { type BulkEventMessage, LightsoutError, type ServerView, StreamCloseCode } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { canSeeTenant, listServers, toServerView } from '../inventory/servers.js';
import { bearerTokenOf } from './access.js';

export const EVENTS_SUBPROTOCOL = 'lightsout.events.v1';
/** A subscriber this far behind is disconnected instead of buffering without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export type EventMessage = { type: 'servers'; servers: ServerView[] } | { type: 'server'; server: ServerView } | { type: 'server-removed'; id: string } | BulkEventMessage;

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
 * A bulk job's progress (`bulk-result`, `bulk-finished`) goes to the
 * job's own caller only: the subject and tenant that started it.
 */
export default async function eventsPlugin(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/events',
    {
      websocket: true,
      config: { permission: 'servers.read' },
      schema: { tags: ['servers'], hide: true },
    },
    (socket: WebSocket, request) => {
      let principal = request.principal!;
      // The token the access hook verified: re-read when a revocation narrows the caller's scope.
      const token = bearerTokenOf(request);
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
      const isOnline = (agentId: string) => app.agentRouter.isOnline(agentId);
      const snapshot = async () => send({ type: 'servers', servers: (await listServers(app.store, principal)).map((row) => toServerView(row, isOnline, app.serverActivity)) });
      // Subscribe before the snapshot so no change falls between them; the queue keeps the order.
      const unsubscribe = app.serverEvents.subscribe((change) =>
        enqueue(async () => {
          for (const row of await listServers(app.store, principal, [...change.changed])) send({ type: 'server', server: toServerView(row, isOnline, app.serverActivity) });
          for (const [id, tenant] of change.removed) if (canSeeTenant(principal, tenant)) send({ type: 'server-removed', id });
        }),
      );
      const stopBulk = app.hasDecorator('bulk')
        ? app.bulk.subscribe((job, message) => {
            if (job.subject === principal.subject && job.tenant === principal.tenant) enqueue(async () => send(message));
          })
        : () => undefined;
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
        stopBulk();
        stopHearing();
        clearTimeout(expiry);
      });
    },
  );
}
