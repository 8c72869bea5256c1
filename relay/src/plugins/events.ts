import { LightsoutError, StreamCloseCode } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { type FeedMessage, openServerFeed } from '../inventory/feed.js';
import { bearerTokenOf } from './access.js';

export const EVENTS_SUBPROTOCOL = 'lightsout.events.v1';
/** A subscriber this far behind is disconnected instead of buffering without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export type EventMessage = FeedMessage;

/**
 * `GET /v1/events` (WebSocket, subprotocol lightsout.events.v1): the server
 * feed (inventory/feed.ts, shared with the RPC WatchServers) as JSON
 * messages: one `servers` snapshot of what the caller may see, then
 * `server` upserts and `server-removed`. Same tenant scoping as GET
 * /v1/servers. Closed (1008) when the access token expires; the client
 * reconnects with a fresh one. A revocation of the caller (user disabled,
 * API token revoked, password changed) closes it with 4403 at once; a grant
 * or role change sends a new `servers` snapshot of the narrower scope (or
 * closes, if the token no longer verifies). A bulk job's progress
 * (`bulk-result`, `bulk-finished`) goes to the job's own caller only: the
 * subject and tenant that started it.
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
      const stop = openServerFeed(
        app,
        { principal: request.principal!, token: bearerTokenOf(request), log: request.log, bulk: true },
        {
          send(message) {
            if (socket.readyState !== socket.OPEN) return;
            if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
              socket.close(1013, 'subscriber too slow');
              return;
            }
            socket.send(JSON.stringify(message));
          },
          end(reason) {
            if (socket.readyState !== socket.OPEN && socket.readyState !== socket.CONNECTING) return;
            if (reason === 'revoked') socket.close(StreamCloseCode.FORBIDDEN, 'access revoked');
            else if (reason === 'expired') socket.close(1008, 'access token expired');
            else socket.close(1011, 'internal error');
          },
        },
      );
      socket.on('message', () => socket.close(1008, new LightsoutError('BAD_REQUEST', 'the event feed is one-way').message));
      socket.on('close', stop);
    },
  );
}
