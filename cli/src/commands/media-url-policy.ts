import { LightsoutError, type MediaUrlPolicy, type MediaUrlPolicyView } from '@lightsout/shared';
import { json, printable } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

/**
 * `lightsout media url-policy get|set`: which hosts a tenant's agents may
 * fetch images from for `media mount SERVER https://…` (none until a tenant
 * admin allows some). Entries: a host name, `*.domain`, an IP address or a
 * CIDR block; a name never reaches an internal address unless that address
 * is allowed too (docs/virtual-media.md).
 */

const pathFor = (tenant?: string) => `/v1/media/url-policy${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`;

export async function urlPolicyGet(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  print(context, await (await apiFor(context)).get<MediaUrlPolicyView>(pathFor(options.tenant)), options.json === true);
}

export async function urlPolicySet(context: CommandContext, options: { allow: string; maxBytes?: string; tenant?: string; json?: boolean }): Promise<void> {
  const allow = options.allow.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  const policy: MediaUrlPolicy = { allow };
  if (options.maxBytes !== undefined) {
    const maxBytes = Number(options.maxBytes);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new LightsoutError('BAD_REQUEST', '--max-bytes takes a positive whole number of bytes');
    policy.maxBytes = maxBytes;
  }
  print(context, await (await apiFor(context)).request<MediaUrlPolicyView>('PUT', pathFor(options.tenant), policy), options.json === true);
}

function print(context: CommandContext, view: MediaUrlPolicyView, asJson: boolean): void {
  if (asJson) return context.output.out(json(view));
  const lines = [`tenant:    ${view.tenant}`, `allow:     ${view.policy.allow.length > 0 ? view.policy.allow.join(', ') : '(nothing: mount by URL is off)'}`];
  if (view.policy.maxBytes !== undefined) lines.push(`max bytes: ${view.policy.maxBytes}`);
  if (view.updatedAt) lines.push(`updated:   ${view.updatedAt} by ${view.updatedBy ?? '?'}`);
  context.output.out(`${lines.map((line) => printable(line)).join('\n')}\n`);
}
