import type { PowerState, ServerView } from '@lightsout/shared';

/** What list_servers (MCP) and ListServers (RPC) filter by; every criterion given must hold. */
export interface ServerFilter {
  /** A substring of the name (case-insensitive) or of the id. */
  name?: string;
  labels?: Record<string, string>;
  rack?: string;
  datacenter?: string;
  region?: string;
  power?: PowerState;
}

export function matchesFilter(server: ServerView, filter: ServerFilter): boolean {
  const { name, labels, rack, datacenter, region, power } = filter;
  return (
    (name === undefined || server.name.toLowerCase().includes(name.toLowerCase()) || server.id.includes(name.toLowerCase())) &&
    Object.entries(labels ?? {}).every(([key, value]) => server.labels[key] === value) &&
    (rack === undefined || server.rack === rack) &&
    (datacenter === undefined || server.datacenter === datacenter) &&
    (region === undefined || server.region === region) &&
    (power === undefined || server.power === power)
  );
}
