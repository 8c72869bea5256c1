import type { GrantSelector, Role } from '@lightsout/shared';

/**
 * What the Administration view shows, pure and testable. The relay decides
 * every request (relay/src/access/permissions.ts); this only hides what a
 * role could never use, so a tenant admin is not shown agents and tenants.
 */
export type AdminSection = 'users' | 'tenants' | 'agents' | 'discovered' | 'join-tokens' | 'tokens' | 'audit';

export const SECTION_LABELS: Record<AdminSection, string> = {
  users: 'Users and grants',
  tenants: 'Tenants and policies',
  agents: 'Agents',
  discovered: 'Discovered BMCs',
  'join-tokens': 'Join tokens',
  tokens: 'API tokens',
  audit: 'Audit log',
};

/** The sections a role may use, in menu order; none for viewers and operators (no Administration at all). */
export function adminSections(role: Role): AdminSection[] {
  switch (role) {
    case 'provider-admin':
      return ['users', 'tenants', 'agents', 'discovered', 'join-tokens', 'tokens', 'audit'];
    case 'tenant-admin':
      return ['users', 'tenants', 'tokens', 'audit'];
    default:
      return [];
  }
}

/** Roles a role may hand out (users, tokens): never above its own, as the relay's assignableRoles. */
export function assignableRoles(role: Role): Role[] {
  const order: Role[] = ['viewer', 'operator', 'tenant-admin', 'provider-admin'];
  return order.slice(0, order.indexOf(role) + 1);
}

/** A grant in words: which servers it opens. */
export function describeSelector(selector: GrantSelector, serverName: (id: string) => string | undefined = () => undefined): string {
  switch (selector.kind) {
    case 'rack':
      return `rack ${selector.rack}`;
    case 'label':
      return `label ${selector.key}=${selector.value}`;
    case 'servers': {
      const names = selector.ids.map((id) => serverName(id) ?? id);
      return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
    }
  }
}

/** The audit search form as the user filled it: text fields, and local date-times from <input type="datetime-local">. */
export interface AuditSearch {
  user: string;
  server: string;
  action: string;
  /** `YYYY-MM-DDTHH:mm` in local time, or ''. */
  since: string;
  until: string;
}

export const EMPTY_AUDIT_SEARCH: AuditSearch = { user: '', server: '', action: '', since: '', until: '' };

/**
 * The query of GET /v1/audit for a search, newest first, `before` paging
 * back. Local date-times become epoch milliseconds (the relay's `time`);
 * blank fields are left out. An unreadable date is an error to show, not a
 * filter silently dropped.
 */
export function auditQuery(search: AuditSearch, options: { limit: number; before?: number | null }): { query: string } | { error: string } {
  const params = new URLSearchParams({ order: 'desc', limit: String(options.limit) });
  if (options.before !== undefined && options.before !== null) params.set('before', String(options.before));
  for (const key of ['user', 'server', 'action'] as const) {
    const value = search[key].trim();
    if (value !== '') params.set(key, key === 'action' ? value.toLowerCase() : value);
  }
  for (const key of ['since', 'until'] as const) {
    const value = search[key].trim();
    if (value === '') continue;
    const time = new Date(value).getTime();
    if (!Number.isFinite(time)) return { error: `${key === 'since' ? 'From' : 'To'}: "${value}" is not a date and time` };
    params.set(key, String(time));
  }
  const since = params.get('since');
  const until = params.get('until');
  if (since !== null && until !== null && Number(since) >= Number(until)) return { error: 'From must be before To' };
  return { query: params.toString() };
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for null. */
export function ago(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** An audit record's time: local for reading, UTC (ISO) for the tooltip and for comparing with other logs. */
export function auditTime(epochMs: number): { local: string; utc: string } {
  const date = new Date(epochMs);
  const pad = (value: number) => String(value).padStart(2, '0');
  return {
    local: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`,
    utc: date.toISOString(),
  };
}

/** Who did it, for a person reading: the actor's name the relay resolved, else the raw subject, else "system". */
export function actorLabel(record: { actor?: string | null; subject: string | null }): string {
  return record.actor ?? record.subject ?? 'system';
}

/** The user-visible line of a caught error: the relay's stable code and its message. */
export function errorText(error: unknown): string {
  if (error !== null && typeof error === 'object' && 'code' in error && 'message' in error) return `${String((error as { code: unknown }).code)}: ${String((error as { message: unknown }).message)}`;
  return error instanceof Error ? error.message : String(error);
}
