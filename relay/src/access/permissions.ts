import type { Role } from '@lightsout/shared';

/**
 * The one place that says which role may do what. Every authorisation
 * decision in the relay is a lookup here (`can(role, permission)`), so a
 * reviewer reads one table instead of grepping for role comparisons.
 *
 * Tenant scope is separate and always applies on top: a role acts on its own
 * tenant's servers (narrowed further by grants, see scope.ts); only
 * provider-admin crosses tenants.
 */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'tenant-admin', 'provider-admin'];

const VIEWER_UP: readonly Role[] = ['viewer', 'operator', 'tenant-admin', 'provider-admin'];
const OPERATOR_UP: readonly Role[] = ['operator', 'tenant-admin', 'provider-admin'];
const TENANT_ADMIN_UP: readonly Role[] = ['tenant-admin', 'provider-admin'];
const PROVIDER_ADMIN: readonly Role[] = ['provider-admin'];

export interface PermissionRule {
  roles: readonly Role[];
  /**
   * People only: refused to API tokens (service accounts). A token is a
   * long-lived secret kept in scripts and CI; if it leaks it must not be able
   * to create people, credentials or more tokens, or reshape tenants.
   */
  interactiveOnly?: true;
  /** Destructive: needs a recent authentication (and MFA when the tenant requires it), RFC 9470. */
  stepUp?: true;
  /** Crosses tenants: only the provider tenant's staff hold it. */
  crossTenant?: true;
}

export const PERMISSIONS = {
  /** Who am I (GET /v1/me). */
  'profile.read': { roles: VIEWER_UP },
  /** One's own password and second factor. */
  'account.manage-own': { roles: VIEWER_UP, interactiveOnly: true },
  'servers.read': { roles: VIEWER_UP },
  'power.read': { roles: VIEWER_UP },
  'sensors.read': { roles: VIEWER_UP },
  'console.view': { roles: VIEWER_UP },
  'media.read': { roles: VIEWER_UP },
  'power.on': { roles: OPERATOR_UP },
  /** off, cycle, reset: a running machine loses its state. */
  'power.destructive': { roles: OPERATOR_UP, stepUp: true },
  'boot.set': { roles: OPERATOR_UP },
  'sel.clear': { roles: OPERATOR_UP },
  'console.control': { roles: OPERATOR_UP },
  'console.takeover': { roles: OPERATOR_UP, stepUp: true },
  /** Upload images (tus); mounting one is media.mount. */
  'media.upload': { roles: OPERATOR_UP },
  'media.mount': { roles: OPERATOR_UP, stepUp: true },
  'media.eject': { roles: OPERATOR_UP },
  /** Which hosts the tenant's agents may fetch images from (mount by URL): the agent reaches into its own network on the tenant's word. */
  'media.policy': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  /** Make the agent log in again at once after the BMC rejected its credentials (risks the BMC's lockout counter). */
  'credentials.retry': { roles: TENANT_ADMIN_UP },
  'users.manage': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  'grants.manage': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  'tokens.manage': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  'audit.read': { roles: TENANT_ADMIN_UP },
  /** Every recording of the tenant on servers in one's grants (they hold what was typed, passwords included). */
  'recordings.read': { roles: TENANT_ADMIN_UP },
  /** Which of the tenant's consoles are recorded and how long recordings are kept (its admins decide; an API token does not). */
  'recordings.policy': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  /** Recordings of one's own sessions, on servers still in one's grants. */
  'recordings.read-own': { roles: VIEWER_UP },
  /** Call the MCP endpoint at all; each tool then needs its own permission (and the tenant's automation policy). */
  'automation.use': { roles: VIEWER_UP },
  /** The tenant's automation policy: which tools, which console lines, which actions wait for approval. */
  'automation.manage': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  /** Approve or deny a tool call the policy held back; never with an API token (a script must not approve itself). */
  'automation.approve': { roles: TENANT_ADMIN_UP, interactiveOnly: true },
  'tenants.manage': { roles: PROVIDER_ADMIN, interactiveOnly: true, crossTenant: true },
  'agents.manage': { roles: PROVIDER_ADMIN, interactiveOnly: true, crossTenant: true },
  'servers.assign': { roles: PROVIDER_ADMIN, interactiveOnly: true, crossTenant: true },
  /** What the agents' scans found on the OOB networks: several tenants' hardware, nobody's server yet. */
  'discovery.read': { roles: PROVIDER_ADMIN, crossTenant: true },
  /** Have an agent scan its configured ranges now (probes go out on the datacenter's network). */
  'discovery.scan': { roles: PROVIDER_ADMIN, crossTenant: true },
  /** Make a discovered BMC a server of a tenant, with a credential set the agent holds: as weighty as servers.assign. */
  'discovery.adopt': { roles: PROVIDER_ADMIN, interactiveOnly: true, crossTenant: true },
  'audit.read-all': { roles: PROVIDER_ADMIN, crossTenant: true },
} as const satisfies Record<string, PermissionRule>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission].roles as readonly Role[]).includes(role);
}

export function ruleOf(permission: Permission): PermissionRule {
  return PERMISSIONS[permission];
}

/** Roles a principal of `role` may hand out (to users, grants, tokens): never above its own. */
export function assignableRoles(role: Role): Role[] {
  const rank = ROLES.indexOf(role);
  return ROLES.filter((candidate, index) => index <= rank && (candidate !== 'provider-admin' || role === 'provider-admin'));
}

/** The permission a power action needs. */
export function powerPermission(action: string): Permission {
  if (action === 'status') return 'power.read';
  if (action === 'on') return 'power.on';
  return 'power.destructive';
}
