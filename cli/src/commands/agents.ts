import type { AgentList, AgentTenants, AgentView, JoinTokenCreate, JoinTokenCreated, JoinTokenList } from '@lightsout/shared';
import { LightsoutError } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

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

export async function agentsTokenCreate(context: CommandContext, options: { region: string; datacenter: string; ttl?: number; tenant: string[]; json?: boolean }): Promise<void> {
  const request: JoinTokenCreate = { region: options.region, datacenter: options.datacenter, tenants: [...new Set(options.tenant)] };
  if (options.ttl !== undefined) request.ttlSeconds = options.ttl;
  const created = await (await apiFor(context)).post<JoinTokenCreated>('/v1/agents/join-tokens', request);
  if (options.json) {
    context.output.out(json(created));
    return;
  }
  // The token alone on stdout, so `TOKEN=$(lightsout agents token create …)` works; the rest is for humans.
  context.output.out(`${printable(created.token)}\n`);
  context.output.err(printable(`join token for ${created.region}/${created.datacenter}, tenants ${created.tenants.join(', ')} only, single use, expires ${created.expiresAt}\nstart the agent with LIGHTSOUT_JOIN_TOKEN set to it (or joinToken/joinTokenFile in its config)\n`, { newlines: true }));
}

/** `agents token list`: the join tokens made, with what became of each (never their value). */
export async function agentsTokenList(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<JoinTokenList>('/v1/agents/join-tokens');
  if (options.json) {
    context.output.out(json(list));
    return;
  }
  context.output.out(
    table(
      ['ID', 'REGION', 'DC', 'TENANTS', 'STATE', 'BY', 'CREATED', 'EXPIRES', 'AGENT'],
      list.joinTokens.map((token) => [token.id.slice(0, 16), token.region, token.datacenter, token.tenants.join(','), token.state, token.createdByName ?? token.createdBy, token.createdAt, token.expiresAt, token.usedByAgent]),
    ),
  );
}

/** `agents token revoke ID`: a token not used yet can no longer enroll an agent. ID is the listed id or a unique prefix of it. */
export async function agentsTokenRevoke(context: CommandContext, id: string, options: { json?: boolean }): Promise<void> {
  const api = await apiFor(context);
  let fullId = id;
  if (id.length < 64) {
    const matches = (await api.get<JoinTokenList>('/v1/agents/join-tokens')).joinTokens.filter((token) => token.id.startsWith(id.toLowerCase()));
    if (matches.length !== 1) throw new LightsoutError(matches.length === 0 ? 'NOT_FOUND' : 'VALIDATION_FAILED', matches.length === 0 ? `no join token ${id}` : `${id} matches ${matches.length} join tokens`, { hint: 'lightsout agents token list' });
    fullId = matches[0]!.id;
  }
  await api.request('DELETE', `/v1/agents/join-tokens/${encodeURIComponent(fullId)}`, undefined);
  if (options.json) {
    context.output.out(json({ id: fullId, revoked: true }));
    return;
  }
  context.output.out(`join token ${printable(fullId.slice(0, 16))} revoked; an agent enrolling with it is refused\n`);
}

/** Delete the servers a revoked agent registered (they stay listed otherwise: nothing else can remove them). */
export async function agentsDeleteServers(context: CommandContext, agentId: string, options: { json?: boolean }): Promise<void> {
  const result = await (await apiFor(context)).request<{ removed: string[] }>('DELETE', `/v1/agents/${encodeURIComponent(agentId)}/servers`, undefined);
  if (options.json) {
    context.output.out(json(result));
    return;
  }
  context.output.out(printable(`deleted ${result.removed.length} server${result.removed.length === 1 ? '' : 's'} of revoked agent ${agentId}${result.removed.length > 0 ? `: ${result.removed.join(', ')}` : ''}\n`, { newlines: true }));
}

/** `agents tenants AGENT --tenant T …`: the tenants the agent may register servers into from now on. */
export async function agentsSetTenants(context: CommandContext, agentId: string, options: { tenant: string[]; json?: boolean }): Promise<void> {
  const body: AgentTenants = { tenants: [...new Set(options.tenant)] };
  const agent = await (await apiFor(context)).request<AgentView>('PUT', `/v1/agents/${encodeURIComponent(agentId)}/tenants`, body);
  if (options.json) {
    context.output.out(json(agent));
    return;
  }
  context.output.out(printable(`agent ${agent.id} (${agent.name}) may register servers into ${agent.tenants.join(', ')}; servers of other tenants it registered are gone, new tenants apply at its next connection\n`, { newlines: true }));
}

/** `agents revoke ID`: the agent is disconnected at once and can never connect with its key again. */
export async function agentsRevoke(context: CommandContext, agentId: string, options: { json?: boolean }): Promise<void> {
  const agent = await (await apiFor(context)).post<AgentView>(`/v1/agents/${encodeURIComponent(agentId)}/revoke`, {});
  if (options.json) {
    context.output.out(json(agent));
    return;
  }
  context.output.out(printable(`revoked agent ${agent.id} (${agent.name}, ${agent.region}/${agent.datacenter}); it needs a new join token to come back\n`, { newlines: true }));
}
