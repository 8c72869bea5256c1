import type { Role } from '@lightsout/shared';
import type { FOREIGN_IDENTITIES } from './isolation-world.js';

/**
 * Test-only: what the isolation matrix expects of every route, kept apart
 * from the walk itself so the route-table test can check that each route
 * Fastify registered has an expectation here (none falls to a default).
 */

/** Public by design; walked anyway (every identity) for the leak check, status not asserted. */
export const PUBLIC_ROUTES: Array<[RegExp, string]> = [
  [/^\/healthz$|^\/readyz$/, 'liveness / readiness probes: no data'],
  [/^\/metrics$/, 'Prometheus process metrics: counters by route pattern, no tenant data'],
  [/^\/v1\/client-config$/, 'what a client needs before it can log in (issuer, client ids)'],
  [/^\/v1\/gateway\/jwks\.json$/, 'public keys that verify stream tokens'],
  [/^\/v1\/ssh\/host-key$/, 'the SSH front door\'s public host key, to verify on first connect'],
  [/^\/oidc\//, 'the embedded OpenID Provider: its own protocol authenticates (login.test.ts, token-refusals.test.ts)'],
  [/^\/interaction\//, 'the OP login form'],
  [/^\/docs/, 'OpenAPI document and UI'],
  [/^\/$|^\/\*$/, 'the web console (static files)'],
  [/^\/\.well-known\/oauth-protected-resource(\/mcp)?$/, 'OAuth protected-resource metadata (RFC 9728): the issuer\'s URL, nothing of a tenant'],
  [/^\/v1\/agents\/enroll$/, 'authenticated by the one-time join token in the body (agents/enrollment.test.ts)'],
];

/** Public for one method only: the route's other methods are a user's. */
export const PUBLIC_ROUTE_METHODS: Array<[string, string]> = [
  ['OPTIONS /v1/media/uploads', "a browser's CORS preflight of tus, which never carries credentials: tus's methods and headers, no data"],
  ['OPTIONS /v1/media/uploads/*', "a browser's CORS preflight of tus, which never carries credentials: tus's methods and headers, no data"],
];

/** Authenticated by a credential that is not a user's (agent JWT, stream token): every identity here must get 401. */
export const OTHER_CREDENTIAL_ROUTES: Array<[RegExp, string]> = [
  [/^\/v1\/agent\//, 'agent Ed25519 JWT'],
  [/^\/v1\/streams\/:sessionId$/, 'single-use stream token from POST /v1/servers/:id/sessions'],
  [/^\/v1\/streams\/:sessionId\/route$/, 'a stream token (connect or resume) of that session'],
];

export type ForeignRole = Exclude<Role, 'provider-admin'>;
export const ROLE_OF: Record<(typeof FOREIGN_IDENTITIES)[number], ForeignRole> = {
  'bravo-viewer': 'viewer',
  'bravo-operator': 'operator',
  'bravo-tenant-admin': 'tenant-admin',
  'bravo-service-account': 'tenant-admin',
};
export type Outcome = number | 'open';
const byRole = (viewer: Outcome, operator: Outcome, admin: Outcome) => (role: ForeignRole): Outcome => ({ viewer, operator, 'tenant-admin': admin })[role];
const all = (status: Outcome) => () => status;

/**
 * What another tenant's users get, per route. Requests aim at tenant alpha
 * (its server, user, grant, token ids; `tenant: alpha` in bodies and queries).
 * A route missing here is still walked with the default rule below.
 */
/** People act on their own account; a service account has no second factor to manage. */
const personOnly = (status: Outcome) => (_role: ForeignRole, identity: string): Outcome => (identity === 'bravo-service-account' ? 403 : status);

/** People-only permissions (users, grants, tokens, credentials): an API token is refused before any lookup. */
const interactive = (rule: (role: ForeignRole) => Outcome) => (role: ForeignRole, identity: string): Outcome => (identity === 'bravo-service-account' ? 403 : rule(role));

export const FOREIGN_EXPECTED: Record<string, (role: ForeignRole, identity: string) => Outcome> = {
  'GET /v1/me': all(200),
  'GET /v1/servers': all(200),
  // Counts over their own tenant's servers: nothing of alpha's is counted or named.
  'GET /v1/fleet/summary': all(200),
  // Critical events of their own tenant's servers: none of alpha's logs is read for them or listed.
  'GET /v1/fleet/events': all(200),
  'GET /v1/events': all('open'),
  'POST /v1/agents/join-tokens': all(403),
  'GET /v1/agents/join-tokens': all(403),
  'DELETE /v1/agents/join-tokens/:id': all(403),
  'GET /v1/agents': all(403),
  'POST /v1/agents/:id/revoke': all(403),
  'DELETE /v1/agents/:id/servers': all(403),
  'PUT /v1/agents/:id/tenants': all(403),
  // Discovery is the provider's: no tenant role lists, scans or adopts (an adoption into alpha is refused before any lookup).
  'GET /v1/discovered': all(403),
  'POST /v1/discovered/scan': all(403),
  'POST /v1/discovered/adopt': all(403),
  'GET /v1/users': all(403),
  'POST /v1/users': all(403),
  'PATCH /v1/users/:userId': interactive(byRole(403, 403, 404)),
  // A tenant admin's one-time MFA enrollment code for a user: API tokens never manage credentials.
  'POST /v1/users/:userId/mfa-enrollment': interactive(byRole(403, 403, 404)),
  'GET /v1/grants': all(403),
  'POST /v1/grants': interactive(byRole(403, 403, 404)),
  'DELETE /v1/grants/:grantId': interactive(byRole(403, 403, 404)),
  'GET /v1/tenants': all(403),
  'POST /v1/tenants': all(403),
  'PATCH /v1/tenants/:tenantId': all(403),
  // Aimed at alpha: another tenant's admin is refused (FORBIDDEN), the others lack the permission, a token is people-only.
  'GET /v1/tenants/:tenantId/recording-policy': all(403),
  'PUT /v1/tenants/:tenantId/recording-policy': all(403),
  'GET /v1/tokens': all(403),
  'POST /v1/tokens': all(403),
  'POST /v1/tokens/:tokenId/revoke': interactive(byRole(403, 403, 404)),
  'GET /v1/audit': byRole(403, 403, 200),
  'GET /v1/audit/export': byRole(403, 403, 200),
  'GET /v1/media/images': all(200),
  // tenant alpha's media URL policy (`?tenant=alpha`): people-only, tenant admins of their own tenant
  'GET /v1/media/url-policy': all(403),
  'PUT /v1/media/url-policy': all(403),
  // A selector naming alpha's server resolves in the caller's tenant to nothing (202, total 0); alpha's job is not theirs.
  'POST /v1/bulk': byRole(403, 202, 202),
  'GET /v1/bulk/:id': all(404),
  // Their own tenant's recordings (none here); alpha's recording does not exist for them.
  'GET /v1/recordings': all(200),
  'GET /v1/recordings/:id': all(404),
  // Their own second factor (walked in this order): enrollment starts, a wrong code is refused, removal works.
  'POST /v1/me/totp': personOnly(201),
  'POST /v1/me/totp/confirm': personOnly(400),
  'DELETE /v1/me/totp': personOnly(204),
  // Their own password, with a wrong current one (a right one would end the identity's sign-ins mid-walk).
  'POST /v1/me/password': all(403),
  // Their own keys only: alpha's key cannot be claimed (409, whoever has it) nor removed (404, like a missing one).
  'GET /v1/me/ssh-keys': personOnly(200),
  'POST /v1/me/ssh-keys': personOnly(409),
  'DELETE /v1/me/ssh-keys/:keyId': personOnly(404),
  // A certificate always names the caller's own account: presenting alpha's public key gets one for bravo's user, nothing of alpha's.
  'POST /v1/me/ssh-certificate': personOnly(201),
  // tus: creating needs operator; an upload of another tenant (or none) is 404.
  'POST /v1/media/uploads': byRole(403, 400, 400),
  'HEAD /v1/media/uploads/*': all(404),
  // tus answers a PATCH without Upload-Offset with 403 before it looks the upload up.
  'PATCH /v1/media/uploads/*': all(403),
  'POST /v1/media/uploads/*': byRole(403, 400, 400),
  'DELETE /v1/media/uploads/*': byRole(403, 404, 404),
  'HEAD /v1/media/uploads': all(404),
  'PATCH /v1/media/uploads': byRole(403, 404, 404),
  'DELETE /v1/media/uploads': byRole(403, 404, 404),
  // The automation policy and approvals of tenant alpha (`?tenant=alpha`): people-only, tenant admins of their own tenant.
  'GET /v1/automation/policy': all(403),
  'PUT /v1/automation/policy': all(403),
  'GET /v1/automation/approvals': all(403),
  'POST /v1/automation/approvals/:approvalId/approve': all(403),
  'POST /v1/automation/approvals/:approvalId/deny': all(403),
  // The MCP endpoint authenticates like any route; what its tools do across tenants is mcp-isolation.test.ts.
  'POST /mcp': all(200),
  'GET /mcp': all(405),
  'DELETE /mcp': all(405),
  // The RPC procedures (gRPC, gRPC-Web, Connect), walked in the Connect protocol: their own tenant's list,
  // alpha's server, job or ids are missing ones (404 before any role check, as at /v1/servers/:id…).
  'POST /lightsout.v1.ServerService/ListServers': all(200),
  'POST /lightsout.v1.ServerService/WatchServers': all('open'),
  // Server reflection describes the API, the same for every signed-in caller: it answers, with no tenant's data.
  'POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo': all('open'),
  'POST /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': all('open'),
  'POST /lightsout.v1.ServerService/GetServer': all(404),
  'POST /lightsout.v1.PowerService/GetPower': all(404),
  'POST /lightsout.v1.PowerService/SetPower': all(404),
  'POST /lightsout.v1.BootService/GetBootOverride': all(404),
  'POST /lightsout.v1.BootService/SetBootOverride': all(404),
  'POST /lightsout.v1.SensorService/ListSensors': all(404),
  'POST /lightsout.v1.EventLogService/ListEventLogEntries': all(404),
  'POST /lightsout.v1.EventLogService/ClearEventLog': all(404),
  'POST /lightsout.v1.SessionService/CreateSession': all(404),
  // A selector naming alpha's server resolves in the caller's tenant to nothing (200, total 0), as POST /v1/bulk.
  'POST /lightsout.v1.BulkService/SubmitBulk': byRole(403, 200, 200),
  'POST /lightsout.v1.BulkService/GetBulkJob': all(404),
};

/**
 * What alpha's own users narrowed by grants to another server get, per route
 * method (besides every `/v1/servers/:id…` route: 404). Alpha's server and its
 * recordings — the tenant's and their own — do not exist for them, whatever
 * their role holds; lists and feeds answer without them.
 */
export const NARROWED_EXPECTED: Record<string, Outcome> = {
  'GET /v1/servers': 200,
  'GET /v1/fleet/summary': 200,
  'GET /v1/fleet/events': 200,
  'GET /v1/events': 'open',
  'GET /v1/recordings': 200,
  'GET /v1/recordings/:id': 404,
  'POST /lightsout.v1.ServerService/ListServers': 200,
  'POST /lightsout.v1.ServerService/WatchServers': 'open',
  ...Object.fromEntries(
    ['ServerService/GetServer', 'PowerService/GetPower', 'PowerService/SetPower', 'BootService/GetBootOverride', 'BootService/SetBootOverride', 'SensorService/ListSensors', 'EventLogService/ListEventLogEntries', 'EventLogService/ClearEventLog', 'SessionService/CreateSession'].map((procedure) => [
      `POST /lightsout.v1.${procedure}`,
      404,
    ]),
  ),
};

/** Server-streaming RPC procedures: walked over real HTTP, their first message or error read (they never end by themselves). */
export const RPC_STREAMS = new Set(['/lightsout.v1.ServerService/WatchServers']);
/** Bidirectional streams: gRPC over HTTP/2 only (the Connect protocol answers them 505 on HTTP/1.1), walked with a gRPC client. */
export const RPC_BIDI_STREAMS = new Set(['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo']);
/** Every `/v1/servers/:id…` route: another tenant's server does not exist (the access guard). */
export const SERVER_ROUTE = /^\/v1\/servers\/:id(\/|$)/;


export function classify(url: string, method?: string): { kind: 'public' | 'credential'; reason: string } | { kind: 'user' } {
  for (const [key, reason] of PUBLIC_ROUTE_METHODS) if (key === `${method} ${url}`) return { kind: 'public', reason };
  for (const [pattern, reason] of PUBLIC_ROUTES) if (pattern.test(url)) return { kind: 'public', reason };
  for (const [pattern, reason] of OTHER_CREDENTIAL_ROUTES) if (pattern.test(url)) return { kind: 'credential', reason };
  return { kind: 'user' };
}

/** The matrix's expectation for a route method, or undefined when it has none (a failure in both tests). */
export function expectationFor(method: string, url: string): 'public' | 'credential' | 'foreign-rule' | 'server-route' | undefined {
  const kind = classify(url, method);
  if (kind.kind !== 'user') return kind.kind;
  if (`${method} ${url}` in FOREIGN_EXPECTED) return 'foreign-rule';
  if (SERVER_ROUTE.test(url)) return 'server-route';
  return undefined;
}
