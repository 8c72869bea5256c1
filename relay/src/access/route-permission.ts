import type { FastifyRequest } from 'fastify';
import type { Principal } from '../identity/verifier.js';
import type { Permission } from './permissions.js';

/**
 * Routes whose caller is not a user or API token: the route checks its own
 * credential, and the access hook lets the request through untouched.
 *  - public: no credential at all (probes, the login pages, the OpenID
 *    Provider's own endpoints, public keys), or one the body carries (an
 *    agent's one-time join token);
 *  - agent-token: an agent's Ed25519 JWT;
 *  - stream-token: the single-use token POST /v1/servers/:id/sessions issued;
 *  - rpc: the RPC procedures (gRPC, gRPC-Web, Connect; plugins/rpc). Their
 *    callers are users and API tokens like any route's, but a refusal must
 *    answer in the caller's protocol (a gRPC status in trailers), which this
 *    hook's JSON errors are not: every procedure calls the hook's own
 *    `app.access.authenticate` and `app.access.authorize` first.
 */
export const CREDENTIAL_MODES = ['public', 'agent-token', 'stream-token', 'rpc'] as const;
export type CredentialMode = (typeof CREDENTIAL_MODES)[number];

/**
 * A permission that depends on the request (the power action, the console
 * mode): `least` is what every caller needs, `of` what this request needs.
 * `of` runs after authentication and the server-scope check, on the
 * validated body.
 */
export interface RequestPermission {
  least: Permission;
  of(request: FastifyRequest, principal: Principal): Permission;
}

/** What a route declares in `config.permission`; access.ts enforces it before the handler. */
export type RoutePermission = Permission | CredentialMode | RequestPermission;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call this route. Every route declares one (a test walks the
     * route table); a route without it is refused to everyone. A typo here is
     * a compile error: the type is the permission table's keys.
     */
    permission?: RoutePermission;
  }
}

export function isCredentialMode(permission: RoutePermission): permission is CredentialMode {
  return typeof permission === 'string' && (CREDENTIAL_MODES as readonly string[]).includes(permission);
}

/** The permission(s) a route can ever need, for docs and the route-table test. */
export function leastPermission(permission: RoutePermission): Permission | CredentialMode {
  return typeof permission === 'string' ? permission : permission.least;
}
