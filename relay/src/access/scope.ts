import type { Principal } from '../identity/verifier.js';
import type { Store } from '../store/open.js';

/**
 * Which servers a principal may reach. Two layers, both narrowing:
 *  1. tenant: a server belongs to one tenant; only provider-admins cross tenants;
 *  2. grants: a user with no grants acts on all of their tenant's servers; a
 *     user with grants only on servers matching at least one of them
 *     (a rack, a label `key=value`, or a list of server ids).
 */
/** What scoping reads of a principal: its role, tenant and who it is (whose grants). */
export type ScopedPrincipal = Pick<Principal, 'role' | 'tenant' | 'subject'>;

export type GrantSelector = { kind: 'rack'; rack: string } | { kind: 'label'; key: string; value: string } | { kind: 'servers'; ids: string[] };

export interface ServerPlacement {
  id: string;
  tenant_id: string;
  rack: string;
  labels: string;
}

export function selectorMatches(selector: GrantSelector, server: ServerPlacement): boolean {
  switch (selector.kind) {
    case 'rack':
      return server.rack === selector.rack;
    case 'servers':
      return selector.ids.includes(server.id);
    case 'label': {
      try {
        return (JSON.parse(server.labels) as Record<string, unknown>)[selector.key] === selector.value;
      } catch {
        return false;
      }
    }
  }
}

/** The principal's grant selectors, or undefined when no grant narrows them. */
export async function grantSelectors(store: Store, principal: ScopedPrincipal): Promise<GrantSelector[] | undefined> {
  if (principal.role === 'provider-admin') return undefined;
  const rows = await store.selectFrom('grants').select('selector').where('tenant_id', '=', principal.tenant).where('subject', '=', principal.subject).execute();
  if (rows.length === 0) return undefined;
  return rows.map((row) => JSON.parse(row.selector) as GrantSelector);
}

export function principalSeesServer(principal: ScopedPrincipal, selectors: GrantSelector[] | undefined, server: ServerPlacement): boolean {
  if (principal.role !== 'provider-admin' && server.tenant_id !== principal.tenant) return false;
  return selectors === undefined || selectors.some((selector) => selectorMatches(selector, server));
}

/** Whether the principal may reach this server id (a missing server is simply not visible). */
export async function serverVisible(store: Store, principal: ScopedPrincipal, serverId: string): Promise<boolean> {
  const server = await store.selectFrom('servers').select(['id', 'tenant_id', 'rack', 'labels']).where('id', '=', serverId).executeTakeFirst();
  if (server === undefined) return false;
  return principalSeesServer(principal, await grantSelectors(store, principal), server);
}

/** Filter rows of the servers table down to what the principal may see (for lists and feeds). */
export async function visibleServers<Row extends ServerPlacement>(store: Store, principal: Principal, rows: Row[]): Promise<Row[]> {
  const selectors = await grantSelectors(store, principal);
  return rows.filter((row) => principalSeesServer(principal, selectors, row));
}
