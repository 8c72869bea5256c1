import { EventEmitter } from 'node:events';
import { type AgentToRelay, encodeControl } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { type ConnectionHooks, ControlConnection } from './connection.js';

type State = Extract<AgentToRelay, { type: 'state' }>;

/** A control connection over a fake socket whose hooks record what they were given, each taking a turn of the queue. */
function connection() {
  const socket = Object.assign(new EventEmitter(), { sent: [] as string[], send(data: string) { this.sent.push(data); }, close() {} });
  const calls: string[] = [];
  let release: (() => void) | undefined;
  /** The first hook call waits here, so everything after it piles up in the queue. */
  const gate = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const wait = async () => {
    if (first) {
      first = false;
      await gate;
    }
  };
  const hooks: ConnectionHooks = {
    onHello: async () => {
      await wait();
      calls.push('hello');
    },
    onInventory: async (_connection, message) => {
      await wait();
      calls.push(`inventory ${message.servers.map((server) => server.id).join(',')}`);
    },
    onStates: async (_connection, messages) => {
      await wait();
      calls.push(`states ${messages.map((message) => `${message.serverId}=${message.power}`).join(',')}`);
    },
    onDiscovered: async (_connection, message) => {
      await wait();
      calls.push(`discovered ${message.scanId} ${message.bmcs.map((bmc) => bmc.address).join(',')}`);
    },
    onHeartbeat: () => undefined,
    onClosed: () => undefined,
    countMessage: () => undefined,
  };
  const log = { warn: () => undefined, error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as FastifyBaseLogger;
  const control = new ControlConnection({ id: 'a1', name: 'a1', region: 'eu', datacenter: 'fra1' }, socket as unknown as WebSocket, { heartbeatIntervalMs: 60_000, missedHeartbeats: 3, maxFrameBytes: 1 << 20, log }, hooks);
  const receive = (message: AgentToRelay) => socket.emit('message', Buffer.from(encodeControl(message)), false);
  const state = (serverId: string, power: State['power']): State => ({ v: 1, type: 'state', serverId, power, reachable: true });
  const settled = () => new Promise((resolve) => setTimeout(resolve, 20));
  return { control, calls, receive, state, release: () => release!(), settled };
}

describe('the control queue', () => {
  it('applies consecutive state messages as one batch, in order with the messages around them', async () => {
    const { control, calls, receive, state, release, settled } = connection();
    receive({ v: 1, type: 'hello', agentVersion: '1.0.0', capabilities: [] });
    // What an agent sends after every reconnection: its inventory, then one state per server.
    receive({ v: 1, type: 'inventory', servers: [{ id: 's1', name: 's1', tenant: 'demo', rack: 'r1', endpoints: {}, capabilities: [] }] });
    for (let index = 0; index < 200; index += 1) receive(state(`s${index}`, 'on'));
    receive(state('s1', 'off'));
    receive({ v: 1, type: 'inventory', servers: [] });
    receive(state('s2', 'off'));
    release();
    await settled();
    expect(calls).toHaveLength(5);
    expect(calls.slice(0, 2)).toEqual(['hello', 'inventory s1']);
    // 201 messages, one call, in arrival order (the later s1 last).
    expect(calls[2]!.split(',')).toHaveLength(201);
    expect(calls[2]!.endsWith('s199=on,s1=off')).toBe(true);
    // A state after the next inventory is not pulled ahead of it.
    expect(calls.slice(3)).toEqual(['inventory ', 'states s2=off']);
    control.close(1000, 'done');
  });

  it('a state arriving while its batch is being applied starts the next batch', async () => {
    const { control, calls, receive, state, release, settled } = connection();
    receive(state('s1', 'on'));
    receive(state('s2', 'on'));
    // The first batch's hook is running (held at the gate): s3 must not join a batch already handed over.
    await settled();
    receive(state('s3', 'off'));
    release();
    await settled();
    expect(calls).toEqual(['states s1=on,s2=on', 'states s3=off']);
    control.close(1000, 'done');
  });
});

describe('scan reports', () => {
  const report = (scanId: string, addresses: string[], more: boolean): AgentToRelay => ({
    v: 1, type: 'discovered', scanId, ranges: ['10.0.8.0/24'], startedAt: 'a', finishedAt: 'b', addresses: 254, probes: 600,
    bmcs: addresses.map((address) => ({ address, protocols: ['ipmi'], ipmi: { port: 623, asf: true, ipmi15: true, ipmi20: true, authTypes: [] } })),
    ...(more ? { more: true } : {}),
  });

  it('applies the parts of one report together, and drops the parts of a report cut off by the next', async () => {
    const { control, calls, receive, release, settled } = connection();
    receive(report('one', ['10.0.8.1'], true));
    receive(report('two', ['10.0.8.5'], true));
    receive(report('two', ['10.0.8.6'], false));
    release();
    await settled();
    expect(calls).toEqual(['discovered two 10.0.8.5,10.0.8.6']);
    control.close(1000, 'done');
  });
});
