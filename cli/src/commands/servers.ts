import type { BmcLinkStatus, CredentialsRetryResult, ServerConnection, ServerDetail, ServerList } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

export async function serversList(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<ServerList>('/v1/servers');
  if (options.json) {
    context.output.out(json(list));
    return;
  }
  context.output.out(
    table(
      ['ID', 'NAME', 'TENANT', 'REGION', 'DC', 'RACK', 'POWER', 'AGENT'],
      list.servers.map((server) => [server.id, server.name, server.tenant, server.region, server.datacenter, server.rack, server.power, server.agent]),
    ),
  );
}

/** One line about the agent's link to the BMC: what it negotiated, or why it cannot log in. */
export function describeBmcLink(bmc: BmcLinkStatus | null | undefined): string {
  if (bmc === null || bmc === undefined) return 'no report yet';
  const parts: string[] = [];
  if (bmc.credentials === 'rejected') parts.push(`credentials rejected, next login ${bmc.retryAt ?? 'later'} (lightsout servers retry-credentials)`);
  if (bmc.protocol !== undefined) parts.push(bmc.cipherSuite === undefined ? bmc.protocol : `${bmc.protocol}, cipher suite ${bmc.cipherSuite}`);
  if (bmc.error !== undefined && bmc.credentials !== 'rejected') parts.push(`last error ${bmc.error.code}: ${bmc.error.message}`);
  return parts.length === 0 ? 'ok' : parts.join('; ');
}

/** The agent carrying a server: its name and version (provider admins get them), presence, last heartbeat, site. */
export function describeAgent(connection: ServerConnection): string {
  const { agent } = connection;
  const who = agent.name === undefined ? agent.id : `${agent.name} (${agent.id})`;
  const version = agent.version ? ` ${agent.version}` : '';
  return `${who}${version}, ${agent.state}, last seen ${agent.lastSeenAt ?? 'never'}, ${agent.region}/${agent.datacenter}`;
}

/** The gateway holding the agent's control connection, or why there is none. */
export function describeGateway(connection: ServerConnection): string {
  const { gateway } = connection;
  if (gateway === undefined) return 'none (the agent is offline)';
  const region = gateway.region === null ? '' : `, region ${gateway.region}`;
  const replica = gateway.replicaId === undefined ? '' : `, replica ${gateway.replicaId}`;
  return `${gateway.url}${region}${replica}`;
}

export async function serversShow(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const server = await (await apiFor(context)).get<ServerDetail>(`/v1/servers/${encodeURIComponent(serverId)}`);
  if (options.json) {
    context.output.out(json(server));
    return;
  }
  const rows: Array<[string, string]> = [
    ['id', server.id],
    ['name', server.name],
    ['tenant', server.tenant],
    ['location', `${server.region}/${server.datacenter}/${server.rack}`],
    ['endpoints', Object.entries(server.endpoints).map(([kind, address]) => `${kind} ${address}`).join(', ')],
    ['power', `${server.power}${server.stateAt === null ? '' : ` (reported ${server.stateAt})`}`],
    ...(server.connection === undefined
      ? [['agent', `${server.agentId} (${server.agent})`] as [string, string]]
      : [['agent', describeAgent(server.connection)] as [string, string], ['gateway', describeGateway(server.connection)] as [string, string]]),
    ['bmc', describeBmcLink(server.bmc)],
  ];
  context.output.out(rows.map(([key, value]) => `${key.padEnd(10)}${printable(value)}`).join('\n') + '\n');
}

export async function serversRetryCredentials(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const result = await (await apiFor(context)).post<CredentialsRetryResult>(`/v1/servers/${encodeURIComponent(serverId)}/credentials/retry`, {});
  if (options.json) {
    context.output.out(json(result));
    return;
  }
  context.output.out(printable(`${serverId}: power ${result.power}; ${describeBmcLink(result.bmc)}\n`, { newlines: true }));
}
