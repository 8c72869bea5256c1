import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { CONTROL_PROTOCOL_VERSION, LightsoutError, type StreamOpenParams } from '@lightsout/shared';
import { pino } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentContext } from '../agent.js';
import type { ServerEntry } from '../config/types.js';
import { createDispatcher } from '../control/dispatcher.js';
import { createAgentMetrics } from '../metrics/agent-metrics.js';
import { ServerTenants } from '../server-tenants.js';
import { AgentStreams } from '../streams/extension.js';
import type { ConsolePortOpener } from '../streams/ports/types.js';
import { agentConfigFor } from './stand-in-relay.js';

/**
 * The agent's stream plane with one server and a stand-in for the relay's
 * dial-back endpoint (every leg the agent dials lands in `legs`), the ports
 * opened by the test's `openPort`. `open` sends the relay's `stream.open`
 * for a SOL console in control mode, with `params` over the defaults. Both
 * go through the agent's dispatcher, which owns the request's deadline; an
 * error answer rejects as the LightsoutError it carries.
 */
export interface StreamWorld {
  streams: AgentStreams;
  tenants: ServerTenants;
  legs: WebSocket[];
  /** `timeoutMs`: the request's deadline, as the relay sends it (a minute when absent). */
  open(sessionId: string, params?: Partial<StreamOpenParams>, timeoutMs?: number): Promise<unknown>;
  /** Any control op, as the relay sends it: the answer's result, or its error thrown. */
  request(op: string, params: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  stop(): Promise<void>;
}

export interface StreamWorldOptions {
  dialBackConcurrency?: number;
  /** Called with each dial-back's upgrade request; the handshake completes when `accept` is called. */
  onDialBack?: (accept: () => void) => void;
  /** The agent token each dial-back is signed with (called once per dial-back). */
  signJwt?: () => Promise<string>;
}

export async function startStreamWorld(server: ServerEntry, openPort: ConsolePortOpener, options: StreamWorldOptions = {}): Promise<StreamWorld> {
  const { onDialBack } = options;
  const relay = new WebSocketServer({ host: '127.0.0.1', port: 0, ...(onDialBack === undefined ? {} : { verifyClient: (_info: unknown, done: (accepted: boolean) => void) => onDialBack(() => done(true)) }) });
  await once(relay, 'listening');
  const legs: WebSocket[] = [];
  relay.on('connection', (socket) => legs.push(socket));
  const tenants = new ServerTenants([server]);
  const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const context = {
    config: agentConfigFor(relayUrl, [server]),
    relay: () => ({ url: relayUrl }),
    identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: '' },
    registry: undefined as never,
    logger: pino({ level: 'silent' }),
    signJwt: options.signJwt ?? (async () => 'agent-jwt'),
    tenants,
    metrics: createAgentMetrics(),
  } satisfies AgentContext;
  const streams = new AgentStreams(context, { openPort, graceMs: 60_000, ...(options.dialBackConcurrency === undefined ? {} : { dialBackConcurrency: options.dialBackConcurrency }) });
  const dispatch = createDispatcher({ registry: undefined as never, maxTimeoutMs: 60_000, handlers: streams.handlers });
  let requests = 0;
  const request = async (op: string, params: Record<string, unknown>, timeoutMs = 60_000): Promise<unknown> => {
    const outcome = await dispatch({ v: CONTROL_PROTOCOL_VERSION, type: 'request', id: `request-${++requests}`, op, params, timeoutMs });
    if (!outcome.ok) throw LightsoutError.fromBody(outcome.error);
    return outcome.result;
  };
  return {
    streams,
    tenants,
    legs,
    open(sessionId, params = {}, timeoutMs) {
      const full: StreamOpenParams = { sessionId, legId: `leg-${sessionId}`, serverId: server.id, tenant: server.tenant, kind: 'sol', mode: 'control', subject: 'user', user: 'user', resume: false, dialPath: `/v1/agent/streams/${sessionId}?leg=1`, ...params };
      return request('stream.open', full as unknown as Record<string, unknown>, timeoutMs);
    },
    request,
    async stop() {
      await streams.stop();
      for (const leg of legs) leg.terminate();
      relay.close();
    },
  };
}
