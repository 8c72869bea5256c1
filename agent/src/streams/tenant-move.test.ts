import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { StreamCloseCode, type StreamOpenParams } from '@lightsout/shared';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentContext } from '../agent.js';
import type { AgentConfig, ServerEntry } from '../config/types.js';
import { createAgentMetrics } from '../metrics/agent-metrics.js';
import { ServerTenants } from '../server-tenants.js';
import { AgentStreams } from './extension.js';
import type { ConsolePort } from './ports/types.js';

/**
 * A provider admin moved a server to another tenant: the agent ends the old
 * tenant's console sessions on it for good, drops the shared console (and
 * with it the scrollback of the old tenant's screen), refuses the old
 * tenant from then on and opens the console for the new one.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-06', name: 'sim-06', tenant: 'demo', rack: 'r1', labels: {} };

async function world() {
  // Stands in for the relay's dial-back endpoint: every leg the agent dials lands here.
  const relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(relay, 'listening');
  const legs: WebSocket[] = [];
  relay.on('connection', (socket) => legs.push(socket));
  const ports: Array<{ closed: boolean }> = [];
  const openPort = async (): Promise<ConsolePort> => {
    const state = { closed: false };
    ports.push(state);
    return { replay: new TextEncoder().encode('demo$ secret-command\r\n'), write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => void (state.closed = true) };
  };
  const tenants = new ServerTenants([server]);
  const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const context = {
    config: { relays: [relayUrl], servers: [server], stateDir: '/nonexistent' } as unknown as AgentConfig,
    relay: () => ({ url: relayUrl }),
    identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: '' },
    registry: undefined as never,
    logger: pino({ level: 'silent' }),
    signJwt: async () => 'agent-jwt',
    tenants,
    metrics: createAgentMetrics(),
  } satisfies AgentContext;
  const streams = new AgentStreams(context, { openPort, graceMs: 60_000 });
  cleanups.push(async () => {
    await streams.stop();
    for (const leg of legs) leg.terminate();
    relay.close();
  });
  const open = (sessionId: string, tenant: string) => {
    const params: StreamOpenParams = { sessionId, legId: `leg-${sessionId}`, serverId: server.id, tenant, kind: 'sol', mode: 'control', subject: `user-of-${tenant}`, user: `user-of-${tenant}`, resume: false, dialPath: `/v1/agent/streams/${sessionId}?leg=1` };
    return streams.handlers['stream.open']!(params as unknown as Record<string, unknown>, undefined as never);
  };
  return { streams, tenants, legs, ports, open };
}

describe('a server moved to another tenant', () => {
  it('server.assign ends the old tenant\'s sessions and console; the new tenant is the only one let in', async () => {
    const { streams, legs, ports, open } = await world();
    await open('session-of-demo-0001', 'demo');
    expect(streams.hasSession('session-of-demo-0001')).toBe(true);
    const demoLeg = legs[0]!;
    const closed = once(demoLeg, 'close');

    expect(await streams.handlers['server.assign']!({ serverId: server.id, tenant: 'bravo' }, undefined as never)).toEqual({ sessionsEnded: 1 });
    const [code] = (await closed) as [number];
    expect(code).toBe(StreamCloseCode.ENDED);
    expect(streams.hasSession('session-of-demo-0001')).toBe(false);
    expect(ports[0]!.closed).toBe(true);

    await expect(open('session-of-demo-0002', 'demo')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await open('session-of-bravo-0001', 'bravo');
    expect(streams.hasSession('session-of-bravo-0001')).toBe(true);
    // A new console for bravo: not the one that held demo's screen.
    expect(ports).toHaveLength(2);
    expect(ports[1]!.closed).toBe(false);
  });

  it('an assignment heard at (re)connect (inventory-ack) does the same', async () => {
    const { streams, tenants, legs, open } = await world();
    await open('session-of-demo-0003', 'demo');
    const closed = once(legs[0]!, 'close');
    tenants.assign(server.id, 'bravo');
    await closed;
    expect(streams.hasSession('session-of-demo-0003')).toBe(false);
    await expect(open('session-of-demo-0004', 'demo')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Assigned back to the tenant of its config: the assignment is dropped, the config's tenant is let in again.
    tenants.assign(server.id, 'demo');
    expect(tenants.tenantOf(server.id)).toBe('demo');
    await open('session-of-demo-0005', 'demo');
  });

  it('refuses an assignment for a server this agent does not have', async () => {
    const { streams } = await world();
    await expect(streams.handlers['server.assign']!({ serverId: 'elsewhere', tenant: 'bravo' }, undefined as never)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(streams.handlers['server.assign']!({ serverId: server.id }, undefined as never)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
