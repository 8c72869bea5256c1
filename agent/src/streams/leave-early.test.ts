import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { StreamOpenParams } from '@lightsout/shared';
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
 * `~.` before the stream attached: the relay sends `stream.close` while the
 * agent is still opening the BMC side (SOL activation takes round trips).
 * The session ends at once, and the console the open then brings up is let
 * go as soon as it is up — not held until someone else joins and leaves.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-08', name: 'sim-08', tenant: 'demo', rack: 'r1', labels: {} };

describe('leaving before the stream attached', () => {
  it('stream.close during the BMC open ends the session, and the opened console is closed once it is up', async () => {
    const relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(relay, 'listening');
    const legs: WebSocket[] = [];
    relay.on('connection', (socket) => legs.push(socket));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let portClosed!: () => void;
    const closed = new Promise<void>((resolve) => (portClosed = resolve));
    const openPort = async (): Promise<ConsolePort> => {
      await gate;
      return { write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => portClosed() };
    };
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const context = {
      config: { relays: [relayUrl], servers: [server], stateDir: '/nonexistent' } as unknown as AgentConfig,
      relay: () => ({ url: relayUrl }),
      identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: '' },
      registry: undefined as never,
      logger: pino({ level: 'silent' }),
      signJwt: async () => 'agent-jwt',
      tenants: new ServerTenants([server]),
      metrics: createAgentMetrics(),
    } satisfies AgentContext;
    const streams = new AgentStreams(context, { openPort, graceMs: 60_000 });
    cleanups.push(async () => {
      await streams.stop();
      for (const leg of legs) leg.terminate();
      relay.close();
    });
    const sessionId = 'session-left-early-01';
    const params: StreamOpenParams = { sessionId, legId: 'leg-left-early', serverId: server.id, tenant: 'demo', kind: 'sol', mode: 'control', subject: 'u', user: 'u', resume: false, dialPath: `/v1/agent/streams/${sessionId}?leg=1` };
    const opening = streams.handlers['stream.open']!(params as unknown as Record<string, unknown>, undefined as never).catch((error: unknown) => error);
    expect(streams.hasSession(sessionId)).toBe(true);
    await streams.handlers['stream.close']!({ sessionId }, undefined as never);
    // Ended now, not when the grace period (60 s here) runs out.
    expect(streams.hasSession(sessionId)).toBe(false);
    release();
    await closed;
    // Nothing dials back for a session that is over.
    expect(await opening).toMatchObject({ code: 'NOT_FOUND' });
    expect(legs).toHaveLength(0);
  });
});
