import type { BulkEventMessage, ServerView } from '@lightsout/shared';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Principal } from '../identity/verifier.js';
import { canSeeTenant, listServers, toServerView } from './servers.js';

export type FeedMessage = { type: 'servers'; servers: ServerView[] } | { type: 'server'; server: ServerView } | { type: 'server-removed'; id: string } | BulkEventMessage;

/** Why a feed ended on its own: the caller was revoked, their token expired, or reading failed. */
export type FeedEnd = 'revoked' | 'expired' | 'failed';

export interface FeedSink {
  send(message: FeedMessage): void;
  /** Called once; nothing is sent after it. */
  end(reason: FeedEnd): void;
}

export interface FeedCaller {
  principal: Principal;
  /** The bearer token the caller authenticated with: re-verified when a revocation narrows their scope. */
  token: string;
  log: FastifyBaseLogger;
  /** Also send the caller's own bulk jobs' progress. */
  bulk: boolean;
}

/** Revocations that narrow what a still-valid token sees: the feed re-reads its scope instead of ending. */
const NARROWING_REASONS = new Set(['grants changed', 'role changed']);

/**
 * The live server feed behind both the `/v1/events` WebSocket and the RPC
 * `WatchServers` stream: one `servers` snapshot of what the caller may see,
 * then `server` upserts and `server-removed` as agents register, report
 * state, come and go (same tenant scoping as GET /v1/servers). A revocation
 * of the caller ends it at once; a grant or role change sends a new
 * snapshot of the narrower scope (or ends it, if the token no longer
 * verifies); the token's expiry ends it. Returns the function that stops it.
 */
export function openServerFeed(app: FastifyInstance, caller: FeedCaller, sink: FeedSink): () => void {
  let principal = caller.principal;
  let ended = false;
  let queue: Promise<void> = Promise.resolve();
  const send = (message: FeedMessage) => {
    if (!ended) sink.send(message);
  };
  const end = (reason: FeedEnd) => {
    if (ended) return;
    ended = true;
    stop();
    sink.end(reason);
  };
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch((error: unknown) => {
      caller.log.error({ err: error }, 'server feed failed');
      end('failed');
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
  const stopBulk =
    caller.bulk && app.hasDecorator('bulk')
      ? app.bulk.subscribe((job, message) => {
          if (job.subject === principal.subject && job.tenant === principal.tenant) enqueue(async () => send(message));
        })
      : () => undefined;
  const stopHearing = app.revocations.subscribe((notice) => {
    if (notice.kind !== 'subject' || notice.subject !== principal.subject) return;
    // Ended at once, before any queued update goes out; a narrowing re-reads the scope in order.
    if (!NARROWING_REASONS.has(notice.reason)) return end('revoked');
    enqueue(async () => {
      try {
        principal = await app.identity.principalFromToken(caller.token);
      } catch {
        return end('revoked');
      }
      await snapshot();
    });
  });
  enqueue(snapshot);
  const expiry = setTimeout(() => end('expired'), Math.min(2 ** 31 - 1, Math.max(0, principal.expiresAt * 1000 - Date.now())));
  expiry.unref();

  function stop(): void {
    ended = true;
    unsubscribe();
    stopBulk();
    stopHearing();
    clearTimeout(expiry);
  }
  return stop;
}
