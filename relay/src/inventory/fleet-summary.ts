import { bmcTrouble, type FleetDatacenter, type FleetSummary, type ServerView } from '@lightsout/shared';

/**
 * The fleet overview's counts over the servers a caller may see. Pure: the
 * route gives it the caller's server views (tenant-scoped, grants applied),
 * so the counts never include a server the tree would not show.
 */
export function summarizeFleet(servers: readonly ServerView[], now: Date): FleetSummary {
  const power = { on: 0, off: 0, unknown: 0, pending: 0 };
  const bmc = { credentialsRejected: 0, unreachable: 0 };
  const consoles = { sessions: 0, servers: 0 };
  let mounts = 0;
  const datacenters = new Map<string, FleetDatacenter & { online: Set<string>; offline: Set<string> }>();
  for (const server of servers) {
    power[server.power] += 1;
    if (server.pendingPower) power.pending += 1;
    const trouble = bmcTrouble(server);
    if (trouble === 'rejected') bmc.credentialsRejected += 1;
    else if (trouble === 'unreachable') bmc.unreachable += 1;
    if ((server.sessions ?? 0) > 0) {
      consoles.sessions += server.sessions!;
      consoles.servers += 1;
    }
    if (server.media) mounts += 1;
    const key = `${server.region}/${server.datacenter}`;
    let entry = datacenters.get(key);
    if (!entry) {
      entry = { region: server.region, datacenter: server.datacenter, servers: 0, agentsOnline: 0, agentsOffline: 0, serversBehindOfflineAgents: 0, online: new Set(), offline: new Set() };
      datacenters.set(key, entry);
    }
    entry.servers += 1;
    (server.agent === 'online' ? entry.online : entry.offline).add(server.agentId);
    if (server.agent === 'offline') entry.serversBehindOfflineAgents += 1;
  }
  return {
    servers: servers.length,
    power,
    datacenters: [...datacenters.values()]
      .sort((left, right) => left.region.localeCompare(right.region) || left.datacenter.localeCompare(right.datacenter))
      .map(({ online, offline, ...entry }) => ({ ...entry, agentsOnline: online.size, agentsOffline: offline.size })),
    bmc,
    consoles,
    mounts,
    at: now.toISOString(),
  };
}
