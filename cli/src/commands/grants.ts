import { type GrantList, type GrantSelector, type GrantView, LightsoutError } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

function selectorText(selector: GrantSelector): string {
  return selector.kind === 'rack' ? `rack ${selector.rack}` : selector.kind === 'label' ? `label ${selector.key}=${selector.value}` : `servers ${selector.ids.join(',')}`;
}

export async function grantsList(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<GrantList>(`/v1/grants${options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`}`);
  context.output.out(options.json ? json(list) : table(['ID', 'USER', 'SCOPE', 'CREATED'], list.grants.map((grant) => [grant.id, grant.userId, selectorText(grant.selector), grant.createdAt])));
}

/** `grants create USER --rack R | --label k=v | --servers a,b`: narrows the user to that group (grants add up). */
export async function grantsCreate(context: CommandContext, userId: string, options: { rack?: string; label?: string; servers?: string; json?: boolean }): Promise<void> {
  const given = [options.rack, options.label, options.servers].filter((value) => value !== undefined);
  if (given.length !== 1) throw new LightsoutError('BAD_REQUEST', 'give exactly one of --rack, --label key=value, --servers a,b');
  let selector: GrantSelector;
  if (options.rack !== undefined) selector = { kind: 'rack', rack: options.rack };
  else if (options.label !== undefined) {
    const [key, ...rest] = options.label.split('=');
    if (!key || rest.length === 0) throw new LightsoutError('BAD_REQUEST', '--label must be key=value');
    selector = { kind: 'label', key, value: rest.join('=') };
  } else selector = { kind: 'servers', ids: options.servers!.split(',').map((id) => id.trim()).filter(Boolean) };
  const grant = await (await apiFor(context)).post<GrantView>('/v1/grants', { userId, selector });
  context.output.out(options.json ? json(grant) : printable(`grant ${grant.id}: ${grant.userId} → ${selectorText(grant.selector)}\n`, { newlines: true }));
}

export async function grantsDelete(context: CommandContext, grantId: string): Promise<void> {
  await (await apiFor(context)).request<unknown>('DELETE', `/v1/grants/${encodeURIComponent(grantId)}`, undefined);
  context.output.out(`deleted grant ${grantId}\n`);
}
