import type { ServerEntry } from './config/types.js';

export type TenantAssignedListener = (serverId: string, tenant: string) => void;

/**
 * Which tenant each server belongs to now. The agent's config names a
 * tenant per server; a provider admin may move a server to another one on
 * the relay (PUT /v1/servers/:id/tenant), which tells the agent with a
 * `server.assign` request and again in every inventory-ack. The relay's word
 * wins: a console is opened only for the tenant the server is in now.
 * Kept in memory; the relay repeats it after every reconnect.
 */
export class ServerTenants {
  private readonly configured: Map<string, string>;
  private readonly assigned = new Map<string, string>();
  private readonly listeners = new Set<TenantAssignedListener>();

  constructor(servers: readonly Pick<ServerEntry, 'id' | 'tenant'>[]) {
    this.configured = new Map(servers.map((server) => [server.id, server.tenant]));
  }

  /** A server adopted while the agent runs, in the tenant the admin named. */
  add(serverId: string, tenant: string): void {
    this.configured.set(serverId, tenant);
  }

  /** The server's tenant, or undefined for a server this agent does not have. */
  tenantOf(serverId: string): string | undefined {
    return this.assigned.get(serverId) ?? this.configured.get(serverId);
  }

  /** Record the relay's assignment; listeners hear every call (ending another tenant's sessions is idempotent). Returns false for an unknown server. */
  assign(serverId: string, tenant: string): boolean {
    if (!this.configured.has(serverId)) return false;
    if (tenant === this.configured.get(serverId)) this.assigned.delete(serverId);
    else this.assigned.set(serverId, tenant);
    for (const listener of this.listeners) listener(serverId, tenant);
    return true;
  }

  onAssigned(listener: TenantAssignedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
