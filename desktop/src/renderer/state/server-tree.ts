import { bmcTrouble, type ServerView } from '@lightsout/shared';

/**
 * The server tree as rows for a virtualized list: tenant → region →
 * datacenter → rack → server, flattened in display order. Pure, so the
 * 10,000-server case is a unit test, and rebuilt only when the server list,
 * the filter or the collapsed set changes.
 */
export type GroupLevel = 'tenant' | 'region' | 'datacenter' | 'rack';
export const GROUP_LEVELS: readonly GroupLevel[] = ['tenant', 'region', 'datacenter', 'rack'];

export interface GroupRow {
  kind: 'group';
  /** Path key, e.g. `acme/eu-west/ams1/r12`: stable across updates. */
  key: string;
  level: GroupLevel;
  label: string;
  depth: number;
  total: number;
  poweredOn: number;
  agentsOffline: number;
  collapsed: boolean;
}

export interface ServerRow {
  kind: 'server';
  key: string;
  depth: number;
  server: ServerView;
}

export type TreeRow = GroupRow | ServerRow;

function hostOf(endpoint: string): string {
  // `vnc://10.0.0.5:5900`, `https://10.0.0.5`, `10.0.0.5:623`: match on the host part too.
  const withoutScheme = endpoint.replace(/^[a-z+]+:\/\//i, '');
  return withoutScheme.split(/[/:]/, 1)[0] ?? withoutScheme;
}

/** Lower-cased text a filter token may match for one server. */
export function searchText(server: ServerView): string {
  const parts = [server.id, server.name, server.tenant, server.region, server.datacenter, server.rack];
  for (const [key, value] of Object.entries(server.labels)) parts.push(`${key}=${value}`, value);
  for (const endpoint of Object.values(server.endpoints)) {
    if (typeof endpoint === 'string') parts.push(endpoint, hostOf(endpoint));
  }
  return parts.join('\n').toLowerCase();
}

/**
 * Every whitespace-separated token must match. `power:on|off|unknown|pending`,
 * `agent:online|offline`, `bmc:rejected|unreachable`, `console:active` and
 * `media:mounted` match the state, `dc:region/datacenter` (or `dc:datacenter`)
 * and `id:server-id` match exactly — the fleet overview's counts open the tree
 * with these; anything else is a substring of the name, id, labels (`k=v`),
 * location or BMC addresses.
 */
export function compileFilter(query: string): (server: ServerView, text: string) => boolean {
  const tokens = query.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 16);
  if (tokens.length === 0) return () => true;
  const tests = tokens.map((token): ((server: ServerView, text: string) => boolean) => {
    const [prefix, value] = token.split(':', 2);
    if (value !== undefined && prefix === 'power') return value === 'pending' ? (server) => Boolean(server.pendingPower) : (server) => server.power === value;
    if (value !== undefined && prefix === 'agent') return (server) => server.agent === value;
    if (value !== undefined && prefix === 'bmc') return (server) => bmcTrouble(server) === value;
    if (value === 'active' && prefix === 'console') return (server) => (server.sessions ?? 0) > 0;
    if (value === 'mounted' && prefix === 'media') return (server) => Boolean(server.media);
    if (value !== undefined && prefix === 'dc') return value.includes('/') ? (server) => `${server.region}/${server.datacenter}`.toLowerCase() === value : (server) => server.datacenter.toLowerCase() === value;
    if (value !== undefined && prefix === 'id') return (server) => server.id.toLowerCase() === value;
    return (_server, text) => text.includes(token);
  });
  return (server, text) => tests.every((test) => test(server, text));
}

const groupValue = (server: ServerView, level: GroupLevel): string => server[level];

// One collator for every comparison: String#localeCompare builds one per call,
// which makes sorting 10,000 servers take a noticeable fraction of a second.
const collator = new Intl.Collator(undefined, { numeric: true });

function compareServers(left: ServerView, right: ServerView): number {
  for (const level of GROUP_LEVELS) {
    const order = collator.compare(groupValue(left, level), groupValue(right, level));
    if (order !== 0) return order;
  }
  return collator.compare(left.name, right.name) || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0);
}

/** Sort once per server-list change; `buildRows` walks the sorted list. */
export function sortServers(servers: readonly ServerView[]): { server: ServerView; text: string }[] {
  return [...servers].sort(compareServers).map((server) => ({ server, text: searchText(server) }));
}

export function buildRows(sorted: readonly { server: ServerView; text: string }[], query: string, collapsed: ReadonlySet<string>): TreeRow[] {
  const matches = compileFilter(query);
  const filtering = query.trim().length > 0;
  const rows: TreeRow[] = [];
  // Open groups on the current path; a new value at a level closes it and all deeper ones.
  const open: (GroupRow | null)[] = [null, null, null, null];
  const hiddenBelow = { depth: Number.POSITIVE_INFINITY };

  for (const { server, text } of sorted) {
    if (!matches(server, text)) continue;
    let path = '';
    for (let depth = 0; depth < GROUP_LEVELS.length; depth++) {
      const level = GROUP_LEVELS[depth]!;
      path = depth === 0 ? groupValue(server, level) : `${path}/${groupValue(server, level)}`;
      let group = open[depth];
      if (!group || group.key !== path) {
        for (let deeper = depth; deeper < open.length; deeper++) open[deeper] = null;
        if (hiddenBelow.depth >= depth) hiddenBelow.depth = Number.POSITIVE_INFINITY;
        group = { kind: 'group', key: path, level, label: groupValue(server, level), depth, total: 0, poweredOn: 0, agentsOffline: 0, collapsed: !filtering && collapsed.has(path) };
        open[depth] = group;
        if (hiddenBelow.depth > depth) rows.push(group);
        if (group.collapsed && hiddenBelow.depth > depth) hiddenBelow.depth = depth;
      }
      group.total++;
      if (server.power === 'on') group.poweredOn++;
      if (server.agent === 'offline') group.agentsOffline++;
    }
    if (hiddenBelow.depth === Number.POSITIVE_INFINITY) rows.push({ kind: 'server', key: `server:${server.id}`, depth: GROUP_LEVELS.length, server });
  }
  return rows;
}

/** Servers under a group key (for "select all in rack"). */
export function serversUnder(sorted: readonly { server: ServerView }[], groupKey: string): ServerView[] {
  return sorted
    .map(({ server }) => server)
    .filter((server) => {
      const path = GROUP_LEVELS.map((level) => server[level]).join('/');
      return path === groupKey || path.startsWith(`${groupKey}/`);
    });
}

/**
 * Whether two views of a server show the same, field by field: every field
 * the tree, its badges or the server page show counts. A field left out here
 * kept the old object when only it changed — the confirmation of a power
 * cycle (pendingPower → null, lastPower set) arriving after the power read
 * it follows left the tree saying "cycling…" for good.
 */
function sameServer(left: ServerView, right: ServerView): boolean {
  return (
    left.power === right.power && left.agent === right.agent && left.stateAt === right.stateAt && left.name === right.name &&
    left.tenant === right.tenant && left.region === right.region && left.datacenter === right.datacenter && left.rack === right.rack &&
    left.agentId === right.agentId && JSON.stringify(left.labels) === JSON.stringify(right.labels) &&
    JSON.stringify(left.endpoints) === JSON.stringify(right.endpoints) && left.capabilities.join() === right.capabilities.join() &&
    (left.sessions ?? 0) === (right.sessions ?? 0) && sameJson(left.media, right.media) &&
    sameJson(left.bmc, right.bmc) && sameJson(left.pendingPower, right.pendingPower) && sameJson(left.lastPower, right.lastPower)
  );
}

/** Absent (an older relay) and null are the same; objects are compared by their JSON (the relay writes fields in one order). */
function sameJson(left: unknown, right: unknown): boolean {
  return JSON.stringify(left ?? null) === JSON.stringify(right ?? null);
}

/**
 * A fresh server list with unchanged servers kept as the previous objects,
 * and the previous array itself when nothing changed: a poll that brings no
 * news then costs no re-sort and no re-render.
 */
export function mergeServers(previous: readonly ServerView[], next: readonly ServerView[]): readonly ServerView[] {
  const byId = new Map(previous.map((server) => [server.id, server]));
  let changed = previous.length !== next.length;
  const merged = next.map((server, index) => {
    const old = byId.get(server.id);
    if (old && sameServer(old, server)) {
      if (previous[index] !== old) changed = true;
      return old;
    }
    changed = true;
    return server;
  });
  return changed ? merged : previous;
}
