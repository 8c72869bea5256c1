import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { importJWK, type JWK } from 'jose';
import { type WebSocket, WebSocketServer } from 'ws';
import { type AgentToRelay, decodeAgentMessage, encodeControl, type RelayToAgent } from '@lightsout/shared';
import type { AgentKeyPair } from '../identity/keys.js';
import type { AgentIdentity } from '../identity/state.js';
import type { AgentConfig, ServerEntry } from '../config/types.js';

/**
 * A stand-in for the relay's control endpoint, for tests that run a whole
 * agent: it accepts the agent's control connection, sends `welcome` at once
 * (no authentication: the agent's JWT is not checked here), records every
 * message the agent sends in `received`, and resolves `connected` with the
 * socket so the test can send requests as the relay would.
 */
export interface StandInRelay {
  /** The relay URL to give the agent (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** The identity enrollment would have returned for this relay. */
  readonly identity: AgentIdentity;
  /** What the agent sent, decoded, in order. */
  readonly received: AgentToRelay[];
  /** The agent's control socket, once it connected. */
  readonly connected: Promise<WebSocket>;
  send(socket: WebSocket, message: RelayToAgent): void;
  close(): Promise<void>;
}

export async function startStandInRelay(): Promise<StandInRelay> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const received: AgentToRelay[] = [];
  const send = (socket: WebSocket, message: RelayToAgent) => socket.send(encodeControl(message));
  const connected = new Promise<WebSocket>((resolve) => {
    server.on('connection', (socket) => {
      socket.on('message', (data) => received.push(decodeAgentMessage(data.toString())));
      send(socket, { v: 1, type: 'welcome', agentId: 'a', region: 'r', datacenter: 'd', heartbeatIntervalMs: 10_000, maxFrameBytes: 1 << 20 });
      resolve(socket);
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: url },
    received,
    connected,
    send,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A complete agent config for tests: the relay at `relay`, these servers,
 * fast reconnects, no background polling or sensor sampling unless
 * `overrides` asks for it, and a state directory that does not exist (a test
 * that needs one passes its own).
 */
export function agentConfigFor(relay: string, servers: ServerEntry[], overrides: { control?: Partial<AgentConfig['control']>; poll?: Partial<AgentConfig['poll']>; stateDir?: string } = {}): AgentConfig {
  return {
    relay,
    relays: [relay],
    name: 'test',
    stateDir: overrides.stateDir ?? '/nonexistent',
    joinToken: undefined,
    logLevel: 'silent',
    control: { backoffBaseMs: 10, backoffCapMs: 50, connectTimeoutMs: 5000, stableAfterMs: 60_000, requestTimeoutMs: 2000, ...overrides.control },
    poll: { intervalMs: 3_600_000, concurrency: 2, sensorsIntervalMs: 0, sensorsConcurrency: 2, sensorsHistoryServers: 16, ...overrides.poll },
    metrics: {},
    media: {},
    credentialSets: new Map(),
    discovery: undefined,
    servers,
  };
}

/** An Ed25519 key pair as the agent keeps the one it generated at enrollment. */
export async function agentKeyPair(): Promise<AgentKeyPair> {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK & { x: string };
  const privateKey = await importJWK(jwk, 'EdDSA');
  return { privateKey: privateKey as Exclude<typeof privateKey, Uint8Array>, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } };
}
