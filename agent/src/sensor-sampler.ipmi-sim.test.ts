import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import { waitFor } from '@lightsout/lab/wait';
import pino from 'pino';
import type { SensorHistory } from '@lightsout/shared';
import { startAgent, type RunningAgent } from './agent.js';
import { builtinDriverFactories } from './drivers/builtin.js';
import { agentConfigFor, agentKeyPair, type StandInRelay, startStandInRelay } from './testing/stand-in-relay.js';

// The whole agent against OpenIPMI's ipmi_sim (a real third-party BMC) and a stand-in relay that never asks for sensors.
let lab: IpmiSimLab;
let relay: StandInRelay;
let agent: RunningAgent | undefined;
beforeAll(async () => {
  lab = await startIpmiSim();
  relay = await startStandInRelay();
});
afterAll(async () => {
  await agent?.stop();
  await relay?.close();
  await lab?.stop();
});

describe('background sensor sampling against ipmi_sim', () => {
  it('builds a server\'s sensor history with nobody asking for its sensors', async () => {
    const config = agentConfigFor(relay.url, [
      {
        id: 'sim-01',
        name: 'sim-01',
        tenant: 'demo',
        rack: 'r1',
        labels: {},
        ipmi: { host: lab.host, port: lab.port, credentials: { username: 'admin', password: 'adminpass' }, cipherSuite: 'auto', privilege: 'administrator', quirks: [] },
      },
    ], { control: { requestTimeoutMs: 5000 }, poll: { concurrency: 1, sensorsIntervalMs: 1000, sensorsConcurrency: 1, sensorsHistoryServers: 4 } });
    const logger = pino({ level: 'silent' });
    agent = startAgent({ config, identity: relay.identity, keyPair: await agentKeyPair(), factories: builtinDriverFactories({ stateDir: '/nonexistent', logger }), logger });
    const socket = await relay.connected;
    const samples = async () => (await agent!.metrics.sensorSamples.get()).values.find((value) => value.labels['result'] === 'ok')?.value ?? 0;
    await waitFor('two background sensor reads', async () => (await samples()) >= 2, { timeoutMs: 15_000, intervalMs: 50 });

    relay.send(socket, { v: 1, type: 'request', id: 'h1', op: 'sensors.history', params: { serverId: 'sim-01' }, timeoutMs: 5000 });
    const response = await waitFor('the sensors.history response', () => relay.received.find((message) => message.type === 'response' && message.id === 'h1'), { timeoutMs: 5000, intervalMs: 10 });
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
