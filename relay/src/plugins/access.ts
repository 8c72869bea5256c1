import { LightsoutError } from '@lightsout/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { AuditEvent } from '../audit/audit.js';
import { type Permission, can, ruleOf } from '../access/permissions.js';
import { type RoutePermission, isCredentialMode } from '../access/route-permission.js';
import { serverVisible } from '../access/scope.js';
import { type StepUpPolicy, stepUpChallenge, stepUpPolicy, stepUpRequired, stepUpShortfall } from '../access/step-up.js';
import type { Principal } from '../identity/verifier.js';
import { bearerToken } from './identity.js';

/** One route as Fastify registered it; the isolation matrix and the route-table test walk these. */
export interface RouteRecord {
  methods: string[];
  url: string;
  websocket: boolean;
  /** The route's TypeBox schemas (params, querystring, body), to build valid sample requests. */
  schema: RouteOptions['schema'];
  /** What the route declared in `config.permission` (read late: a scope may mark its routes after this plugin saw them). */
  readonly permission: RoutePermission | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of this relay, collected as plugins register them (new routes are covered automatically). */
    routeTable: RouteRecord[];
    /** The access hook's decision for callers that are not a route (the MCP tools): same scope, role and step-up rules. */
    access: {
      /** The caller behind the request's bearer token, set as request.principal; throws UNAUTHENTICATED / TOKEN_*. */
      authenticate(request: FastifyRequest): Promise<Principal>;
      /** Server scope (NOT_FOUND), role and people-only (FORBIDDEN, audited), step-up (STEP_UP_REQUIRED) for request.principal. */
      authorize(request: FastifyRequest, permission: Permission, serverId?: string): Promise<void>;
      /** Whether the role (and kind of credential) could ever hold the permission: what a tool list shows. */
      may(principal: Principal, permission: Permission): boolean;
    };
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the access hook on every route that needs one. */
    principal: Principal | null;
  }
}

/** What the access hook needs from the rest of the relay; app.ts uses the defaults, plugin tests pass their own. */
export interface AccessDependencies {
  /** The caller behind the request's bearer token; throws UNAUTHENTICATED / TOKEN_*. */
  principalOf(request: FastifyRequest): Promise<Principal>;
  /** Whether the principal may reach this server id (tenant, then grants). */
  serverVisible(principal: Principal, serverId: string): Promise<boolean>;
  stepUpPolicy(tenant: string): Promise<StepUpPolicy>;
  audit(request: FastifyRequest, event: Omit<AuditEvent, 'sourceIp' | 'correlationId'>): Promise<void>;
}

export interface AccessPluginOptions {
  dependencies?: Partial<AccessDependencies>;
}

/** Routes whose `:id` is a server id: the tenant/grant scope check runs before the permission check. */
const SERVER_ROUTE = /^\/v1\/servers\/:id(\/|$)/;

/**
 * Server actions audited here, from the outside: `METHOD route` → action,
 * the outcome from the answer's status. Consoles are audited here only.
 * Virtual media audits its own successes (with the image it mounted, which
 * only the media plugin knows), so here only its refusals and failures are:
 * each action is one record.
 */
const AUDITED_SERVER_ACTIONS: Record<string, { action: string; failuresOnly?: true }> = {
  'POST /v1/servers/:id/sessions': { action: 'session.open' },
  'POST /v1/servers/:id/media': { action: 'media.mount', failuresOnly: true },
  'DELETE /v1/servers/:id/media': { action: 'media.eject', failuresOnly: true },
};

/**
 * The one access decision of the relay, registered before every route
 * plugin. Each route declares `config.permission` (route-permission.ts);
 * before its handler runs, this hook
 *  1. lets credential routes (public, agent token, stream token) through —
 *     they check their own credential;
 *  2. authenticates the bearer token (401 + WWW-Authenticate);
 *  3. on `/v1/servers/:id…`, answers NOT_FOUND unless the caller's tenant
 *     owns the server (or the caller is provider staff) and their grants
 *     include it, so another tenant's server looks exactly like a missing one;
 *  4. checks the role against the permission table (403), and refuses
 *     people-only permissions to API tokens (403), auditing the denial;
 *  5. asks for step-up (RFC 9470) when the permission is destructive.
 * A route that declares nothing is refused to everyone: forgetting is safe,
 * and the route-table test names it.
 */
async function accessPlugin(app: FastifyInstance, options: AccessPluginOptions): Promise<void> {
  const routes: RouteRecord[] = [];
  app.decorate('routeTable', routes);
  app.decorateRequest('principal', null);

  // Defaults reach decorators registered after this plugin, so they are looked up per request.
  const dependencies: AccessDependencies = {
    // The MCP endpoint is a resource server of its own (RFC 9728 metadata at …/mcp): it also takes tokens for its own audience, nothing else does.
    principalOf: (request) => app.identity.principalFromToken(bearerTokenOf(request), request.routeOptions.url === '/mcp' ? 'mcp' : 'api'),
    serverVisible: (principal, serverId) => serverVisible(app.store, principal, serverId),
    stepUpPolicy: (tenant) => stepUpPolicy(app, tenant),
    audit: (request, event) => app.audit.fromRequest(request, event),
    ...options.dependencies,
  };

  async function deny(request: FastifyRequest, principal: Principal, permission: Permission, message: string): Promise<never> {
    await dependencies.audit(request, {
      action: 'access.denied',
      outcome: 'denied',
      subject: principal.subject,
      tenant: principal.tenant,
      target: `route:${request.method} ${request.routeOptions.url ?? ''}`,
      details: { permission, role: principal.role, kind: principal.kind ?? 'user' },
    });
    throw new LightsoutError('FORBIDDEN', message, { hint: principal.kind === 'service-account' ? 'sign in as a person (lightsout login)' : 'ask a tenant or provider administrator for access' });
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.is404) return;
    const declared = request.routeOptions.config.permission;
    if (declared === undefined) throw new LightsoutError('FORBIDDEN', `route ${request.method} ${request.routeOptions.url ?? ''} declares no permission`);
    if (isCredentialMode(declared)) return;

    const principal =
      request.principal ??
      (await Promise.resolve()
        .then(() => dependencies.principalOf(request))
        .catch((error: unknown) => {
          // RFC 9728 §5.1: the challenge names the resource's metadata, where an OAuth client (an MCP client) finds the issuer;
          // RFC 6750 §3.1: a request with no credential at all gets no error code.
          const missing = error instanceof LightsoutError && error.code === 'UNAUTHENTICATED';
          reply.header('www-authenticate', `Bearer realm="lightsout"${missing ? '' : ', error="invalid_token"'}, resource_metadata="${resourceMetadataUrl(app.config.publicUrl, request.routeOptions.url ?? '')}"`);
          throw error;
        }));
    request.principal = principal;

    if (SERVER_ROUTE.test(request.routeOptions.url ?? '')) {
      const id = requestField(request.params, 'id');
      if (typeof id !== 'string' || !(await dependencies.serverVisible(principal, id))) throw new LightsoutError('NOT_FOUND', `no server ${String(id)}`);
    }

    const permission = typeof declared === 'string' ? declared : declared.of(request, principal);
    await enforce(request, principal, permission, (challenge) => reply.header('www-authenticate', challenge));
  }

  /** Role, people-only and step-up checks of one permission (denials audited); throws FORBIDDEN or STEP_UP_REQUIRED. */
  async function enforce(request: FastifyRequest, principal: Principal, permission: Permission, onChallenge?: (header: string) => void): Promise<void> {
    if (!can(principal.role, permission)) await deny(request, principal, permission, `your role (${principal.role}) may not ${permission}`);
    const rule = ruleOf(permission);
    if (rule.interactiveOnly === true && principal.kind === 'service-account') await deny(request, principal, permission, `API tokens may not ${permission}`);

    if (rule.stepUp === true) {
      const policy = await dependencies.stepUpPolicy(principal.tenant);
      const shortfall = stepUpShortfall(principal, policy);
      if (shortfall !== undefined) {
        onChallenge?.(stepUpChallenge(policy));
        await dependencies.audit(request, { action: `step-up.${permission}`, outcome: 'denied', subject: principal.subject, tenant: principal.tenant, details: { reason: shortfall } });
        throw stepUpRequired(policy, permission, shortfall);
      }
    }
  }

  app.decorate('access', {
    async authenticate(request: FastifyRequest) {
      request.principal ??= await dependencies.principalOf(request);
      return request.principal;
    },
    async authorize(request: FastifyRequest, permission: Permission, serverId?: string) {
      const principal = request.principal;
      if (principal === null) throw new LightsoutError('UNAUTHENTICATED', 'no access token');
      if (serverId !== undefined && !(await dependencies.serverVisible(principal, serverId))) throw new LightsoutError('NOT_FOUND', `no server ${serverId}`);
      await enforce(request, principal, permission);
    },
    may(principal: Principal, permission: Permission): boolean {
      return can(principal.role, permission) && !(ruleOf(permission).interactiveOnly === true && principal.kind === 'service-account');
    },
  });
  app.addHook('preHandler', authorize);

  app.addHook('onResponse', async (request, reply) => {
    const audited = AUDITED_SERVER_ACTIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (audited === undefined || request.principal === null) return;
    const status = reply.statusCode;
    if (audited.failuresOnly === true && status < 400) return;
    const { action } = audited;
    const id = requestField(request.params, 'id');
    const body = (name: string) => requestField(request.body, name);
    // Joining a console someone else has live (their leg is still open when this answer goes out).
    const joining = action === 'session.open' && app.hasDecorator('streams') && typeof id === 'string' && app.streams.gateway.othersLiveOn(id, request.principal.subject);
    await dependencies.audit(request, {
      action: joining ? 'session.join' : action,
      outcome: status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure',
      subject: request.principal.subject,
      tenant: request.principal.tenant,
      target: `server:${String(id)}`,
      details: { status, ...(action === 'session.open' ? { kind: body('kind') ?? null, mode: body('mode') ?? null, ...(body('takeover') === true ? { takeover: true } : {}) } : {}), ...(action === 'media.mount' ? { uploadId: body('uploadId') ?? null, sha256: body('sha256') ?? null, boot: body('boot') === true } : {}) },
    });
  });

  app.addHook('onRoute', (route) => {
    routes.push({
      // Read late, like the permission: a scope's own onRoute hook may narrow the methods after this one ran.
      get methods() {
        return (Array.isArray(route.method) ? route.method : [route.method]).map(String);
      },
      url: route.url,
      websocket: (route as { websocket?: boolean }).websocket === true,
      schema: route.schema,
      get permission() {
        return route.config?.permission;
      },
    });
  });
}

/**
 * Where the protected-resource metadata (RFC 9728 §3.1) of a route lives:
 * the MCP endpoint is a resource of its own (`/.well-known/oauth-protected-resource/mcp`),
 * everything else is the relay's API at the root.
 */
export function resourceMetadataUrl(publicUrl: string, routeUrl: string): string {
  return `${publicUrl}/.well-known/oauth-protected-resource${routeUrl === '/mcp' ? '/mcp' : ''}`;
}

/**
 * For a scope whose routes a third-party plugin registers (static files,
 * the API docs UI): mark every route it adds as public, since it cannot
 * declare a permission itself.
 */
export function declarePublicRoutes(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    if (route.config?.permission === undefined) route.config = { ...route.config, permission: 'public' };
  });
}

/**
 * One field of a request's params or body as these hooks see them: they run
 * for every route, so what a route's schema declared is not known here and
 * the value stays unknown until the caller narrows it.
 */
function requestField(part: unknown, name: string): unknown {
  return typeof part === 'object' && part !== null ? Reflect.get(part, name) : undefined;
}

/** The access token from `Authorization: Bearer`, or for WebSockets the `bearer.<token>` subprotocol browsers use. */
export function bearerTokenOf(request: FastifyRequest): string {
  const offered = request.headers['sec-websocket-protocol'];
  if (request.headers.authorization === undefined && typeof offered === 'string') {
    const protocol = offered.split(',').map((entry) => entry.trim()).find((entry) => entry.startsWith('bearer.'));
    if (protocol !== undefined) return protocol.slice('bearer.'.length);
  }
  return bearerToken(request.headers.authorization);
}

export default fp(accessPlugin, { name: 'lightsout-access' });
