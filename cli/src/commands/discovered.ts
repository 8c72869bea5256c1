import { LightsoutError, type AdoptRequest, type AdoptResult, type DiscoveredList, type ScanStarted } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

/**
 * `lightsout discovered list|scan|adopt` (provider admins): the BMCs the
 * agents' scans found in the ranges their configs name, a scan now, and
 * adoption into a tenant with a credential set the agent's config holds
 * (named, never sent: docs/operations.md, Discovery).
 */

export interface AdoptOptions {
  name: string;
  tenant: string;
  credentials: string;
  agent?: string;
  id?: string;
  rack?: string;
  json?: boolean;
}

export async function discoveredList(context: CommandContext, options: { agent?: string; unadopted?: boolean; json?: boolean }): Promise<void> {
  const query = new URLSearchParams();
  if (options.agent !== undefined) query.set('agent', options.agent);
  if (options.unadopted) query.set('adopted', 'false');
  const list = await (await apiFor(context)).get<DiscoveredList>(`/v1/discovered${query.size > 0 ? `?${query}` : ''}`);
  if (options.json) {
    context.output.out(json(list));
    return;
  }
  context.output.out(
    table(
      ['ADDRESS', 'AGENT', 'PROTOCOLS', 'VENDOR', 'MODEL', 'UUID', 'LAST SEEN', 'ADOPTED AS'],
      list.discovered.map((bmc) => [
        bmc.previousAddress === undefined ? bmc.address : `${bmc.address} (was ${bmc.previousAddress})`,
        bmc.agentName,
        bmc.protocols.join(','),
        bmc.vendor ?? '-',
        bmc.model ?? '-',
        bmc.uuid ?? bmc.guid ?? '-',
        bmc.lastSeenAt,
        bmc.adoptedServerId ?? '-',
      ]),
    ),
  );
}

export async function discoveredScan(context: CommandContext, options: { agent: string; json?: boolean }): Promise<void> {
  const started = await (await apiFor(context)).post<ScanStarted>('/v1/discovered/scan', { agentId: options.agent });
  if (options.json) {
    context.output.out(json(started));
    return;
  }
  context.output.out(printable(`agent ${started.agentId} is scanning (scan ${started.scanId}); \`lightsout discovered list\` shows the findings once it is done\n`, { newlines: true }));
}

export async function discoveredAdopt(context: CommandContext, target: string, options: AdoptOptions): Promise<void> {
  const api = await apiFor(context);
  const request: AdoptRequest = { name: options.name, tenant: options.tenant, credentials: options.credentials };
  if (/^(\d{1,3}\.){3}\d{1,3}$/.test(target)) {
    request.address = target;
    request.agentId = options.agent ?? (await agentOfAddress(context, target));
  } else request.id = target;
  if (options.id !== undefined) request.serverId = options.id;
  if (options.rack !== undefined) request.rack = options.rack;
  const adopted = await api.post<AdoptResult>('/v1/discovered/adopt', request);
  if (options.json) {
    context.output.out(json(adopted));
    return;
  }
  context.output.out(printable(`adopted ${adopted.address} as server ${adopted.serverId} (tenant ${options.tenant}, agent ${adopted.agentId}, credentials ${options.credentials})\n`, { newlines: true }));
}

/** The one agent that found `address`; several or none: the user names it. */
async function agentOfAddress(context: CommandContext, address: string): Promise<string> {
  const list = await (await apiFor(context)).get<DiscoveredList>('/v1/discovered');
  const agents = [...new Set(list.discovered.filter((bmc) => bmc.address === address).map((bmc) => bmc.agentId))];
  if (agents.length === 1) return agents[0]!;
  throw new LightsoutError(agents.length === 0 ? 'NOT_FOUND' : 'VALIDATION_FAILED', agents.length === 0 ? `no agent discovered ${address}` : `${agents.length} agents discovered ${address}: name one with --agent`, { hint: 'lightsout discovered list' });
}
