import { LightsoutError } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest, RouteOptions, preHandlerHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { powerPermission } from '../access/permissions.js';
import { serverVisible } from '../access/scope.js';
import { requireStepUp } from '../access/step-up.js';
import { bearerToken } from './identity.js';

/** One route as Fastify registered it; the isolation matrix walks these. */
export interface RouteRecord {
  methods: string[];
  url: string;
  websocket: boolean;
  /** The route's TypeBox schemas (params, querystring, body), to build valid sample requests. */
  schema: RouteOptions['schema'];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of this relay, collected as plugins register them (new routes are covered automatically). */
    routeTable: RouteRecord[];
  }
}

/** Routes whose `:id` is a server id: the tenant/grant guard runs before any of their own code. */
const SERVER_ROUTE = /^\/v1\/servers\/:id(\/|$)/;

/**
 * Server actions audited here, from the outside, for route plugins that do
 * not audit themselves (consoles, virtual media): `METHOD route` → action.
 * The outcome comes from the answer's status.
 */
const AUDITED_SERVER_ACTIONS: Record<string, string> = {
  'POST /v1/servers/:id/sessions': 'session.open',
  'POST /v1/servers/:id/media': 'media.mount',
  'DELETE /v1/servers/:id/media': 'media.eject',
};

/**
 * Cross-cutting access control, registered before every route plugin:
 *  - records the route table;
 *  - on every `/v1/servers/:id…` route, a guard that resolves the caller
 *    and answers NOT_FOUND unless the caller's tenant owns the server (or the
 *    caller is provider staff) and their grants include it — defence in
 *    depth, so a route plugin that forgets its own tenant check still cannot
 *    reach another tenant's server;
 *  - step-up (RFC 9470) for destructive power actions and media mounts.
 */
async function accessPlugin(app: FastifyInstance): Promise<void> {
  const routes: RouteRecord[] = [];
  app.decorate('routeTable', routes);

  /** Requests that passed the guard and join a console someone else has live. */
  const joiningLive = new WeakSet<FastifyRequest>();

  const serverGuard: preHandlerHookHandler = async function serverGuard(request: FastifyRequest, reply) {
    const principal = request.principal ?? (await app.identity.principalFromToken(bearerTokenOf(request)).catch((error: unknown) => {
      reply.header('www-authenticate', 'Bearer realm="lightsout", error="invalid_token"');
      throw error;
    }));
    request.principal = principal;
    const { id } = request.params as { id?: string };
    if (typeof id !== 'string' || !(await serverVisible(app.store, principal, id))) throw new LightsoutError('NOT_FOUND', `no server ${String(id)}`);
    const route = request.routeOptions.url ?? '';
    if (request.method === 'POST' && route === '/v1/servers/:id/power') {
      const action = (request.body as { action?: unknown } | undefined)?.action;
      await requireStepUp(app, request, reply, powerPermission(typeof action === 'string' ? action : 'off'));
    } else if (request.method === 'POST' && route === '/v1/servers/:id/media') {
      await requireStepUp(app, request, reply, 'media.mount');
    } else if (request.method === 'POST' && route === '/v1/servers/:id/sessions') {
      // Joining someone's live console with control rights is what lets you take it over.
      const mode = (request.body as { mode?: unknown } | undefined)?.mode ?? (principal.role === 'viewer' ? 'view' : 'control');
      const othersLive = app.hasDecorator('streams') && app.streams.gateway.othersLiveOn(id, principal.subject);
      if (othersLive) joiningLive.add(request);
      if (mode === 'control' && othersLive) await requireStepUp(app, request, reply, 'console.takeover');
    }
  };

  app.addHook('onResponse', async (request, reply) => {
    const action = AUDITED_SERVER_ACTIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (action === undefined || request.principal === null) return;
    const status = reply.statusCode;
    const { id } = request.params as { id?: string };
    const body = (request.body ?? {}) as { kind?: unknown; mode?: unknown; uploadId?: unknown; sha256?: unknown; boot?: unknown };
    await app.audit.fromRequest(request, {
      action: action === 'session.open' && joiningLive.has(request) ? 'session.join' : action,
      outcome: status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure',
      subject: request.principal.subject,
      tenant: request.principal.tenant,
      target: `server:${String(id)}`,
      details: { status, ...(action === 'session.open' ? { kind: body.kind ?? null, mode: body.mode ?? null } : {}), ...(action === 'media.mount' ? { uploadId: body.uploadId ?? null, sha256: body.sha256 ?? null, boot: body.boot === true } : {}) },
    });
  });

  app.addHook('onRoute', (options) => {
    const methods = (Array.isArray(options.method) ? options.method : [options.method]).map(String);
    routes.push({ methods, url: options.url, websocket: (options as { websocket?: boolean }).websocket === true, schema: options.schema });
    if (SERVER_ROUTE.test(options.url) && !methods.every((method) => method === 'HEAD' || method === 'OPTIONS')) {
      const existing = options.preHandler === undefined ? [] : Array.isArray(options.preHandler) ? options.preHandler : [options.preHandler];
      options.preHandler = [serverGuard, ...existing];
    }
  });
}

/** The access token from `Authorization: Bearer`, or for WebSockets the `bearer.<token>` subprotocol browsers use. */
function bearerTokenOf(request: FastifyRequest): string {
  const offered = request.headers['sec-websocket-protocol'];
  if (request.headers.authorization === undefined && typeof offered === 'string') {
    const protocol = offered.split(',').map((entry) => entry.trim()).find((entry) => entry.startsWith('bearer.'));
    if (protocol !== undefined) return protocol.slice('bearer.'.length);
  }
  return bearerToken(request.headers.authorization);
}

export default fp(accessPlugin, { name: 'lightsout-access' });
