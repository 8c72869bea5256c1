import type { AgentList, AgentView, JoinTokenCreate, JoinTokenCreated, ServerList, WhoAmI } from '@lightsout/shared';
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

export async function agentsTokenCreate(context: CommandContext, options: { region: string; datacenter: string; ttl?: number; json?: boolean }): Promise<void> {
  const request: JoinTokenCreate = { region: options.region, datacenter: options.datacenter };
  if (options.ttl !== undefined) request.ttlSeconds = options.ttl;
  const created = await (await apiFor(context)).post<JoinTokenCreated>('/v1/agents/join-tokens', request);
  if (options.json) {
    context.output.out(json(created));
    return;
  }
  // The token alone on stdout, so `TOKEN=$(lightsout agents token create …)` works; the rest is for humans.
  context.output.out(`${created.token}\n`);
  context.output.err(`join token for ${created.region}/${created.datacenter}, single use, expires ${created.expiresAt}\nstart the agent with LIGHTSOUT_JOIN_TOKEN set to it (or joinToken/joinTokenFile in its config)\n`);
}

/** `agents revoke ID`: the agent is disconnected at once and can never connect with its key again. */
export async function agentsRevoke(context: CommandContext, agentId: string, options: { json?: boolean }): Promise<void> {
  const agent = await (await apiFor(context)).post<AgentView>(`/v1/agents/${encodeURIComponent(agentId)}/revoke`, {});
  if (options.json) {
    context.output.out(json(agent));
    return;
  }
  context.output.out(`revoked agent ${agent.id} (${agent.name}, ${agent.region}/${agent.datacenter}); it needs a new join token to come back\n`);
}
