import type { ApiTokenCreated, ApiTokenList, ApiTokenView } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

const tokenRow = (token: ApiTokenView) => [token.id, token.name, token.tenant, token.role, token.expiresAt, token.revokedAt ?? '-', token.lastUsedAt ?? '-'];

export async function tokensCreate(context: CommandContext, name: string, options: { role: string; ttl?: number; tenant?: string; json?: boolean }): Promise<void> {
  const created = await (await apiFor(context)).post<ApiTokenCreated>('/v1/tokens', { name, role: options.role, ...(options.ttl === undefined ? {} : { ttlSeconds: options.ttl }), ...(options.tenant === undefined ? {} : { tenant: options.tenant }) });
  if (options.json) {
    context.output.out(json(created));
    return;
  }
  // The secret alone on stdout (TOKEN=$(lightsout tokens create …)); it is never shown again.
  context.output.out(`${printable(created.token)}\n`);
  context.output.err(printable(`API token ${created.id} (${created.role}, tenant ${created.tenant}) expires ${created.expiresAt}; shown once — use it as LIGHTSOUT_TOKEN\n`, { newlines: true }));
}

export async function tokensList(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<ApiTokenList>(`/v1/tokens${options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`}`);
  context.output.out(options.json ? json(list) : table(['ID', 'NAME', 'TENANT', 'ROLE', 'EXPIRES', 'REVOKED', 'LAST USED'], list.tokens.map(tokenRow)));
}

export async function tokensRevoke(context: CommandContext, tokenId: string, options: { json?: boolean }): Promise<void> {
  const revoked = await (await apiFor(context)).post<{ id: string; revokedAt: string }>(`/v1/tokens/${encodeURIComponent(tokenId)}/revoke`, {});
  context.output.out(options.json ? json(revoked) : printable(`revoked ${revoked.id} at ${revoked.revokedAt}\n`, { newlines: true }));
}
