import { LightsoutError, type SelEntry, type SelList, type ServerView } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { FLEET_EVENT_LIMIT, FleetEventReader } from './fleet-events.js';

function server(id: string, change: Partial<ServerView> = {}): ServerView {
  return {
    id, name: `${id}.example`, tenant: 'acme', region: 'eu', datacenter: 'ams1', rack: 'r1', labels: {}, endpoints: { ipmi: '10.0.0.1' }, capabilities: ['power', 'sel'],
    agentId: 'agent-a', agent: 'online', power: 'on', stateAt: null, sessions: 0, media: null, bmc: null, pendingPower: null, lastPower: null,
    ...change,
  };
}

const entry = (id: number, time: string | null, event: string, direction: SelEntry['direction'] = 'asserted'): SelEntry => ({ id, time, sensor: 'CPU Temp', event, direction, raw: '' });

/** A fake agent: each server's log, and a count of reads per server. */
function fleetOfLogs(logs: Record<string, SelEntry[] | LightsoutError>) {
  const reads: string[] = [];
  let clock = Date.parse('2026-03-01T12:00:00Z');
  const reader = new FleetEventReader({
    read: async (target): Promise<SelList> => {
      reads.push(target.id);
      const log = logs[target.id];
      if (log instanceof LightsoutError) throw log;
      return { entries: log ?? [] };
    },
    maxAgeMs: 60_000,
    readsPerRequest: 2,
    concurrency: 2,
    now: () => clock,
  });
  return { reader, reads, advance: (ms: number) => (clock += ms) };
}

describe('FleetEventReader', () => {
  it('lists only critical, asserted entries of the servers it is given, newest first', async () => {
    const { reader } = fleetOfLogs({
      a1: [entry(1, '2026-03-01T10:00:00Z', 'Upper Critical going high'), entry(2, '2026-03-01T11:00:00Z', 'Upper Non-critical going high'), entry(3, '2026-03-01T11:30:00Z', 'Upper Critical going high', 'deasserted')],
      a2: [entry(1, '2026-03-01T11:00:00Z', 'Power Supply AC lost'), entry(2, null, 'Uncorrectable ECC'), entry(3, '2026-03-01T09:00:00Z', 'Host power off (forced)')],
    });
    const answer = await reader.collect([server('a1'), server('a2')]);
    expect(answer.events).toEqual([
      { serverId: 'a2', serverName: 'a2.example', time: '2026-03-01T11:00:00Z', sensor: 'CPU Temp', event: 'Power Supply AC lost' },
      { serverId: 'a1', serverName: 'a1.example', time: '2026-03-01T10:00:00Z', sensor: 'CPU Temp', event: 'Upper Critical going high' },
      { serverId: 'a2', serverName: 'a2.example', time: null, sensor: 'CPU Temp', event: 'Uncorrectable ECC' },
    ]);
    expect(answer).toMatchObject({ servers: 2, read: 2, failed: 0, unread: 0, noEventLog: 0, oldestRead: '2026-03-01T12:00:00.000Z' });
  });

  it('gives a caller nothing of a server it was not given, though another caller read that log', async () => {
    const { reader } = fleetOfLogs({ a1: [entry(1, '2026-03-01T10:00:00Z', 'Upper Critical going high')], b1: [entry(1, '2026-03-01T10:00:00Z', 'Upper Critical going high')] });
    await reader.collect([server('b1', { tenant: 'beta' })]);
    const answer = await reader.collect([server('a1')]);
    expect(answer.events.map((event) => event.serverId)).toEqual(['a1']);
    expect(answer.servers).toBe(1);
    // the same server id in another tenant is another server: its reading is not this one's
    const other = await reader.collect([server('a1', { tenant: 'beta' })]);
    expect(other).toMatchObject({ read: 1 });
  });

  it('reads at most readsPerRequest logs a request, stalest first, and keeps a reading for maxAgeMs', async () => {
    const { reader, reads, advance } = fleetOfLogs({});
    const fleet = [server('a1'), server('a2'), server('a3')];
    expect(await reader.collect(fleet)).toMatchObject({ read: 2, unread: 1 });
    expect(await reader.collect(fleet)).toMatchObject({ read: 3, unread: 0 });
    expect(reads).toEqual(['a1', 'a2', 'a3']);
    await reader.collect(fleet);
    expect(reads).toHaveLength(3);
    advance(60_000);
    await reader.collect(fleet);
    expect(reads).toEqual(['a1', 'a2', 'a3', 'a1', 'a2']);
  });

  it('counts a log it could not read, leaves one its own limits turned away unread, and reads none without sel or behind an offline agent', async () => {
    const { reader } = fleetOfLogs({ a1: new LightsoutError('BMC_TIMEOUT', 'no answer'), a2: new LightsoutError('RATE_LIMITED', 'busy') });
    const answer = await reader.collect([server('a1'), server('a2'), server('a3', { capabilities: ['power'] }), server('a4', { agent: 'offline' })]);
    expect(answer).toMatchObject({ servers: 4, read: 0, failed: 1, unread: 1, noEventLog: 2, events: [] });
  });

  it('lists at most the limit', async () => {
    const many = Array.from({ length: FLEET_EVENT_LIMIT + 5 }, (_, index) => entry(index + 1, new Date(Date.UTC(2026, 0, 1, 0, index)).toISOString(), 'Upper Critical going high'));
    const { reader } = fleetOfLogs({ a1: many });
    const { events } = await reader.collect([server('a1')]);
    expect(events).toHaveLength(FLEET_EVENT_LIMIT);
    expect(events[0]!.time).toBe(many.at(-1)!.time);
  });
});
