import type { StreamMode } from '@lightsout/shared';

/**
 * What the SSH user name asks for (`ssh <name>@relay`):
 *   sim-01        the serial console of sim-01, to type into
 *   sim-01+view   the same, watching only
 *   anything else (no server, the user's own name, a typo): the list of
 *                 servers this key may open — decided after the lookup.
 * Server ids follow the inventory's slug rule, so the `+` cannot be part of one.
 */
export type LoginRequest = { kind: 'console'; serverId: string; mode: StreamMode } | { kind: 'list' };

const SERVER_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseLoginName(name: string): LoginRequest {
  const [serverId, suffix, ...rest] = name.split('+');
  if (serverId === undefined || rest.length > 0 || !SERVER_ID.test(serverId)) return { kind: 'list' };
  if (suffix === undefined) return { kind: 'console', serverId, mode: 'control' };
  if (suffix === 'view') return { kind: 'console', serverId, mode: 'view' };
  return { kind: 'list' };
}
