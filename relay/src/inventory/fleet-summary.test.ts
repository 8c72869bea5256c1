import type { ServerView } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { summarizeFleet } from './fleet-summary.js';

function server(id: string, change: Partial<ServerView> = {}): ServerView {
  return {
    id, name: id, tenant: 'acme', region: 'eu', datacenter: 'ams1', rack: 'r1', labels: {}, endpoints: { ipmi: '10.0.0.1' }, capabilities: ['power'],
    agentId: 'agent-a', agent: 'online', power: 'on', stateAt: null, sessions: 0, media: null, bmc: null, pendingPower: null, lastPower: null,
    ...change,
  };
}

describe('summarizeFleet', () => {
  const fleet = [
    server('a1'),
    server('a2', { power: 'off', sessions: 2, media: { filename: 'x.iso', since: null, by: 'ops' } }),
    server('a3', { power: 'unknown', bmc: { credentials: 'rejected', retryAt: '2026-01-01T00:00:00Z' } }),
    server('a4', { bmc: { error: { code: 'BMC_TIMEOUT', message: 'no answer' } }, pendingPower: { action: 'cycle', target: 'on', since: '2026-01-01T00:00:00Z' } }),
    server('b1', { datacenter: 'fra1', agentId: 'agent-b', agent: 'offline', power: 'unknown' }),
    server('b2', { datacenter: 'fra1', agentId: 'agent-c', sessions: 1 }),
  ];

  it('counts power, BMC trouble, consoles and mounts', () => {
    const summary = summarizeFleet(fleet, new Date('2026-01-02T00:00:00Z'));
    expect(summary.servers).toBe(6);
    expect(summary.power).toEqual({ on: 3, off: 1, unknown: 2, pending: 1 });
    // rejected credentials are not also counted as unreachable, although the agent reports an error then too
    expect(summary.bmc).toEqual({ credentialsRejected: 1, unreachable: 1 });
    expect(summary.consoles).toEqual({ sessions: 3, servers: 2 });
    expect(summary.mounts).toBe(1);
    expect(summary.at).toBe('2026-01-02T00:00:00.000Z');
  });

  it('counts distinct agents per datacenter, online and offline', () => {
    expect(summarizeFleet(fleet, new Date()).datacenters).toEqual([
      { region: 'eu', datacenter: 'ams1', servers: 4, agentsOnline: 1, agentsOffline: 0, serversBehindOfflineAgents: 0 },
      { region: 'eu', datacenter: 'fra1', servers: 2, agentsOnline: 1, agentsOffline: 1, serversBehindOfflineAgents: 1 },
    ]);
  });

  it('is empty for an empty fleet', () => {
    expect(summarizeFleet([], new Date(0))).toMatchObject({ servers: 0, datacenters: [], mounts: 0 });
  });
});
