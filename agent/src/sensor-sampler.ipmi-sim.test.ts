import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import { waitFor } from '@lightsout/lab/wait';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { importJWK, type JWK } from 'jose';
import pino from 'pino';
import { decodeAgentMessage, encodeControl, type AgentToRelay, type SensorHistory } from '@lightsout/shared';
import { startAgent, type RunningAgent } from './agent.js';
import type { AgentConfig } from './config/types.js';
import { builtinDriverFactories } from './drivers/builtin.js';

// The whole agent against OpenIPMI's ipmi_sim (a real third-party BMC) and a stand-in relay that never asks for sensors.
let lab: IpmiSimLab;
let wss: WebSocketServer;
let agent: RunningAgent | undefined;
beforeAll(async () => {
  lab = await startIpmiSim();
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
});
afterAll(async () => {
  await agent?.stop();
  await new Promise<void>((resolve) => wss?.close(() => resolve()));
  await lab?.stop();
});

async function keyPair() {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK & { x: string };
  const privateKey = await importJWK(jwk, 'EdDSA');
  return { privateKey: privateKey as Exclude<typeof privateKey, Uint8Array>, publicJwk: { kty: 'OKP' as const, crv: 'Ed25519' as const, x: jwk.x } };
}

describe('background sensor sampling against ipmi_sim', () => {
  it('builds a server\'s sensor history with nobody asking for its sensors', async () => {
    const received: AgentToRelay[] = [];
    const socketReady = new Promise<WebSocket>((resolve) => {
      wss.on('connection', (socket) => {
        socket.on('message', (data) => received.push(decodeAgentMessage(data.toString())));
        socket.send(encodeControl({ v: 1, type: 'welcome', agentId: 'a', region: 'r', datacenter: 'd', heartbeatIntervalMs: 10_000, maxFrameBytes: 1 << 20 }));
        resolve(socket);
      });
    });
    const relay = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const config: AgentConfig = {
      relay,
      relays: [relay],
      name: 'test',
      stateDir: '/nonexistent',
      joinToken: undefined,
      logLevel: 'silent',
      control: { backoffBaseMs: 10, backoffCapMs: 50, connectTimeoutMs: 5000, stableAfterMs: 60_000, requestTimeoutMs: 5000 },
      poll: { intervalMs: 3_600_000, concurrency: 1, sensorsIntervalMs: 1000, sensorsConcurrency: 1, sensorsHistoryServers: 4 },
      metrics: {},
      media: {},
      credentialSets: new Map(),
      discovery: undefined,
      servers: [
        {
          id: 'sim-01',
          name: 'sim-01',
          tenant: 'demo',
          rack: 'r1',
          labels: {},
          ipmi: { host: lab.host, port: lab.port, credentials: { username: 'admin', password: 'adminpass' }, cipherSuite: 'auto', privilege: 'administrator', quirks: [] },
        },
      ],
    };
    const logger = pino({ level: 'silent' });
    agent = startAgent({ config, identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay }, keyPair: await keyPair(), factories: builtinDriverFactories({ stateDir: '/nonexistent', logger }), logger });
    const socket = await socketReady;
    const samples = async () => (await agent!.metrics.sensorSamples.get()).values.find((value) => value.labels['result'] === 'ok')?.value ?? 0;
    await waitFor('two background sensor reads', async () => (await samples()) >= 2, { timeoutMs: 15_000, intervalMs: 50 });

    socket.send(encodeControl({ v: 1, type: 'request', id: 'h1', op: 'sensors.history', params: { serverId: 'sim-01' }, timeoutMs: 5000 }));
    const response = await waitFor('the sensors.history response', () => received.find((message) => message.type === 'response' && message.id === 'h1'), { timeoutMs: 5000, intervalMs: 10 });
    expect(response).toMatchObject({ ok: true });
    const history = (response as { result: SensorHistory }).result;
    expect(history.intervalSeconds).toBe(1);
    expect(history.at.length).toBeGreaterThanOrEqual(2);
    expect(history.at[1]! - history.at[0]!).toBeGreaterThanOrEqual(500);
    const boardTemp = history.sensors.findIndex((sensor) => sensor.name === 'Board Temp');
    expect(boardTemp).toBeGreaterThanOrEqual(0);
    expect(history.sensors[boardTemp]).toEqual({ name: 'Board Temp', type: 'temperature', unit: 'degrees C' });
    expect(history.series[boardTemp]!.slice(0, 2)).toEqual([96, 96]);
  });
});
