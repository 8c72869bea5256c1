import type { ServerView } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { buildRows, compileFilter, mergeServers, searchText, serversUnder, sortServers } from './server-tree.js';

function server(id: string, overrides: Partial<ServerView> = {}): ServerView {
  return {
    id, name: id, tenant: 'acme', region: 'eu-west', datacenter: 'ams1', rack: 'r01',
    labels: {}, endpoints: { ipmi: `10.0.0.${id.length}:623` }, capabilities: ['power'],
    agentId: 'agent-1', agent: 'online', power: 'on', stateAt: null, ...overrides,
  };
}

const fleet = [
  server('web-2', { rack: 'r02', power: 'off' }),
  server('web-10', { rack: 'r02' }),
  server('db-1', { labels: { role: 'database' }, endpoints: { redfish: 'https://10.9.8.7' } }),
  server('edge-1', { tenant: 'blue', region: 'us-east', datacenter: 'nyc1', rack: 'a1', agent: 'offline' }),
];

describe('server tree rows', () => {
  it('groups tenant → region → datacenter → rack with natural name order and counts', () => {
    const rows = buildRows(sortServers(fleet), '', new Set());
    expect(rows.map((row) => (row.kind === 'group' ? `${'  '.repeat(row.depth)}${row.label} (${row.total}/${row.poweredOn}/${row.agentsOffline})` : `${'  '.repeat(row.depth)}${row.server.id}`))).toEqual([
      'acme (3/2/0)', '  eu-west (3/2/0)', '    ams1 (3/2/0)', '      r01 (1/1/0)', '        db-1', '      r02 (2/1/0)', '        web-2', '        web-10',
      'blue (1/1/1)', '  us-east (1/1/1)', '    nyc1 (1/1/1)', '      a1 (1/1/1)', '        edge-1',
    ]);
  });

  it('hides everything under a collapsed group but keeps its siblings', () => {
    const rows = buildRows(sortServers(fleet), '', new Set(['acme/eu-west/ams1/r01', 'blue']));
    expect(rows.map((row) => row.key)).toEqual([
      'acme', 'acme/eu-west', 'acme/eu-west/ams1', 'acme/eu-west/ams1/r01', 'acme/eu-west/ams1/r02', 'server:web-2', 'server:web-10', 'blue',
    ]);
    expect(rows.find((row) => row.key === 'blue')).toMatchObject({ collapsed: true, total: 1 });
  });

  it('filters by name, label, BMC address and state; a filter shows matches even in collapsed groups', () => {
    const sorted = sortServers(fleet);
    const ids = (query: string) => buildRows(sorted, query, new Set(['acme'])).flatMap((row) => (row.kind === 'server' ? [row.server.id] : []));
    expect(ids('web')).toEqual(['web-2', 'web-10']);
    expect(ids('role=database')).toEqual(['db-1']);
    expect(ids('10.9.8.7')).toEqual(['db-1']);
    expect(ids('power:off')).toEqual(['web-2']);
    expect(ids('agent:offline')).toEqual(['edge-1']);
    expect(ids('WEB power:on')).toEqual(['web-10']);
    expect(ids('nothing-like-this')).toEqual([]);
    expect(buildRows(sorted, 'web', new Set(['acme'])).filter((row) => row.kind === 'group').map((row) => row.key)).toEqual([
      'acme', 'acme/eu-west', 'acme/eu-west/ams1', 'acme/eu-west/ams1/r02',
    ]);
  });

  it('filters by the fleet overview\'s states: pending power, BMC trouble, consoles, media, datacenter, exact id', () => {
    const states = [
      ...fleet,
      server('rej-1', { bmc: { credentials: 'rejected', error: { code: 'BMC_AUTH_FAILED', message: 'refused' } } }),
      server('down-1', { bmc: { error: { code: 'BMC_TIMEOUT', message: 'no answer' } }, pendingPower: { action: 'cycle', target: 'on', since: '2026-01-01T00:00:00Z' } }),
      server('busy-1', { sessions: 2, media: { filename: 'x.iso', since: null, by: null } }),
      server('web-1'),
    ];
    const sorted = sortServers(states);
    const ids = (query: string) => buildRows(sorted, query, new Set()).flatMap((row) => (row.kind === 'server' ? [row.server.id] : []));
    expect(ids('bmc:rejected')).toEqual(['rej-1']);
    expect(ids('bmc:unreachable')).toEqual(['down-1']);
    expect(ids('power:pending')).toEqual(['down-1']);
    expect(ids('console:active')).toEqual(['busy-1']);
    expect(ids('media:mounted')).toEqual(['busy-1']);
    expect(ids('dc:us-east/nyc1')).toEqual(['edge-1']);
    expect(ids('dc:NYC1')).toEqual(['edge-1']);
    expect(ids('dc:eu-west/nyc1')).toEqual([]);
    // exact: web-1 only, not web-10
    expect(ids('id:web-1')).toEqual(['web-1']);
  });

  it('matches the host of an endpoint URL and label values', () => {
    expect(searchText(fleet[2]!)).toContain('10.9.8.7');
    expect(compileFilter('database')(fleet[2]!, searchText(fleet[2]!))).toBe(true);
  });

  it('selects every server under a group key, not a sibling with a common prefix', () => {
    const sorted = sortServers([...fleet, server('x', { rack: 'r010' })]);
    expect(serversUnder(sorted, 'acme/eu-west/ams1/r01').map((entry) => entry.id)).toEqual(['db-1']);
  });

  it('builds 10,000 servers in a few tens of milliseconds', () => {
    const many = Array.from({ length: 10_000 }, (_, index) =>
      server(`node-${index}`, { region: `region-${index % 3}`, datacenter: `dc-${index % 7}`, rack: `rack-${index % 97}` }));
    const sorted = sortServers(many);
    const started = performance.now();
    const rows = buildRows(sorted, '', new Set());
    const filtered = buildRows(sorted, 'node-99', new Set());
    expect(performance.now() - started).toBeLessThan(500);
    expect(rows.filter((row) => row.kind === 'server')).toHaveLength(10_000);
    expect(filtered.filter((row) => row.kind === 'server').length).toBe(111); // node-99, node-990..999, node-9900..9999
  });

  it('keeps the previous list when a poll brings no change, and unchanged servers by identity', () => {
    const copy = fleet.map((entry) => ({ ...entry, labels: { ...entry.labels }, endpoints: { ...entry.endpoints } }));
    expect(mergeServers(fleet, copy)).toBe(fleet);
    const changed = copy.map((entry) => (entry.id === 'web-2' ? { ...entry, power: 'on' as const } : entry));
    const merged = mergeServers(fleet, changed);
    expect(merged).not.toBe(fleet);
    expect(merged[1]).toBe(fleet[1]);
    expect(merged[0]).toMatchObject({ id: 'web-2', power: 'on' });
    expect(mergeServers(fleet, copy.slice(1))).toHaveLength(3);
  });

  it('takes a change of the live-session count or the mounted media as news (the tree badges)', () => {
    const withBadges = fleet.map((entry) => ({ ...entry, sessions: 0, media: null }));
    // Absent (an older relay) and zero / null are the same.
    expect(mergeServers(fleet, withBadges)).toBe(fleet);
    const watched = withBadges.map((entry, index) => (index === 0 ? { ...entry, sessions: 2 } : entry));
    expect(mergeServers(fleet, watched)[0]).toMatchObject({ sessions: 2 });
    const media = { filename: 'debian.iso', since: null, by: 'alice' };
    const mounted = watched.map((entry, index) => (index === 0 ? { ...entry, media } : entry));
    const merged = mergeServers(watched, mounted);
    expect(merged).not.toBe(watched);
    expect(merged[0]).toMatchObject({ media });
    expect(mergeServers(mounted, mounted.map((entry) => ({ ...entry, media: entry.media ? { ...entry.media } : null })))).toBe(mounted);
  });

  it('takes a change of the pending power action, its outcome or the BMC link alone as news (a cycle confirmed after the read that saw it on)', () => {
    const pendingPower = { action: 'cycle' as const, target: 'on' as const, since: '2026-12-06T01:03:58.700Z' };
    const cycling = fleet.map((entry, index) => (index === 0 ? { ...entry, power: 'on' as const, pendingPower, lastPower: null } : entry));
    const seen = mergeServers(fleet, cycling);
    expect(seen[0]).toMatchObject({ pendingPower });
    // Same power, same stateAt: only the confirmation changed.
    const lastPower = { action: 'cycle' as const, target: 'on' as const, confirmed: true, at: '2026-12-06T01:03:59.743Z', seconds: 1 };
    const confirmed = mergeServers(seen, cycling.map((entry, index) => (index === 0 ? { ...entry, pendingPower: null, lastPower } : entry)));
    expect(confirmed).not.toBe(seen);
    expect(confirmed[0]).toMatchObject({ pendingPower: null, lastPower });
    const rejected = mergeServers(confirmed, confirmed.map((entry, index) => (index === 0 ? { ...entry, bmc: { protocol: 'ipmi-v2.0', error: { code: 'BMC_AUTH_FAILED', message: 'rejected' } } } : entry)) as typeof confirmed);
    expect(rejected[0]).toMatchObject({ bmc: { error: { code: 'BMC_AUTH_FAILED' } } });
    // Absent and null stay the same.
    expect(mergeServers(fleet, fleet.map((entry) => ({ ...entry, pendingPower: null, lastPower: null, bmc: null })))).toBe(fleet);
  });
});
