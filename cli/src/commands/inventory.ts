import type { AgentList, AgentView, BmcLinkStatus, CredentialsRetryResult, JoinTokenCreate, JoinTokenCreated, ServerList, ServerView, WhoAmI } from '@lightsout/shared';
import { json, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

export async function whoami(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const api = await apiFor(context);
  const me = await api.get<WhoAmI>('/v1/me');
  if (options.json) {
    context.output.out(json(me));
    return;
  }
  const expires = new Date(me.expiresAt * 1000).toISOString();
  context.output.out(table(['USER', 'TENANT', 'ROLE', 'RELAY', 'TOKEN EXPIRES'], [[me.username, me.tenant, me.role, api.relay, expires]]));
}

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

export async function serversShow(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const server = await (await apiFor(context)).get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
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
    ['agent', `${server.agentId} (${server.agent})`],
    ['bmc', describeBmcLink(server.bmc)],
  ];
  context.output.out(rows.map(([key, value]) => `${key.padEnd(10)}${value}`).join('\n') + '\n');
}

export async function serversRetryCredentials(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const result = await (await apiFor(context)).post<CredentialsRetryResult>(`/v1/servers/${encodeURIComponent(serverId)}/credentials/retry`, {});
  if (options.json) {
    context.output.out(json(result));
    return;
  }
  context.output.out(`${serverId}: power ${result.power}; ${describeBmcLink(result.bmc)}\n`);
}

export async function agentsList(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<AgentList>('/v1/agents');
  if (options.json) {
    context.output.out(json(list));
    return;
  }
  context.output.out(
    table(
      ['ID', 'NAME', 'REGION', 'DC', 'STATUS', 'VERSION', 'SERVERS', 'LAST SEEN'],
      list.agents.map((agent) => [agent.id, agent.name, agent.region, agent.datacenter, agent.revoked ? 'revoked' : agent.status, agent.version, agent.servers, agent.lastSeenAt]),
    ),
  );
}

export async function agentsTokenCreate(context: CommandContext, options: { region: string; datacenter: string; ttl?: number; tenant?: string[]; json?: boolean }): Promise<void> {
  const request: JoinTokenCreate = { region: options.region, datacenter: options.datacenter };
  if (options.ttl !== undefined) request.ttlSeconds = options.ttl;
  if (options.tenant !== undefined) request.tenants = options.tenant;
  const created = await (await apiFor(context)).post<JoinTokenCreated>('/v1/agents/join-tokens', request);
  if (options.json) {
    context.output.out(json(created));
    return;
  }
  // The token alone on stdout, so `TOKEN=$(lightsout agents token create …)` works; the rest is for humans.
  context.output.out(`${created.token}\n`);
  context.output.err(`join token for ${created.region}/${created.datacenter}${created.tenants === undefined ? '' : `, tenants ${created.tenants.join(', ')} only`}, single use, expires ${created.expiresAt}\nstart the agent with LIGHTSOUT_JOIN_TOKEN set to it (or joinToken/joinTokenFile in its config)\n`);
}

/** `agents revoke ID`: the agent is disconnected at once and can never connect with its key again. */
/** Delete the servers a revoked agent registered (they stay listed otherwise: nothing else can remove them). */
export async function agentsDeleteServers(context: CommandContext, agentId: string, options: { json?: boolean }): Promise<void> {
  const result = await (await apiFor(context)).request<{ removed: string[] }>('DELETE', `/v1/agents/${encodeURIComponent(agentId)}/servers`, undefined);
  if (options.json) {
    context.output.out(json(result));
    return;
  }
  context.output.out(`deleted ${result.removed.length} server${result.removed.length === 1 ? '' : 's'} of revoked agent ${agentId}${result.removed.length > 0 ? `: ${result.removed.join(', ')}` : ''}\n`);
}

export async function agentsRevoke(context: CommandContext, agentId: string, options: { json?: boolean }): Promise<void> {
  const agent = await (await apiFor(context)).post<AgentView>(`/v1/agents/${encodeURIComponent(agentId)}/revoke`, {});
  if (options.json) {
    context.output.out(json(agent));
    return;
  }
  context.output.out(`revoked agent ${agent.id} (${agent.name}, ${agent.region}/${agent.datacenter}); it needs a new join token to come back\n`);
}
