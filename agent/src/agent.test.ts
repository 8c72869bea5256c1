import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@lightsout/lab/wait';
import pino from 'pino';
import { LightsoutError, type BootOverride } from '@lightsout/shared';
import { controlUrlOf, startAgent, type RunningAgent } from './agent.js';
import type { ServerEntry } from './config/types.js';
import { CredentialGate } from './drivers/credential-gate.js';
import type { BmcDriver } from './drivers/types.js';
import { agentConfigFor, agentKeyPair, type StandInRelay, startStandInRelay } from './testing/stand-in-relay.js';

const credentials = { username: 'u', password: 'p' };
const server = (id: string): ServerEntry => ({ id, name: id, tenant: 'demo', rack: 'r1', labels: {}, ipmi: { host: '127.0.0.1', port: 623, credentials, cipherSuite: 'auto', privilege: 'administrator', quirks: [] } });

function powerDriver(): BmcDriver {
  let power: 'on' | 'off' = 'on';
  const no = async (): Promise<never> => {
    throw new LightsoutError('BMC_UNSUPPORTED', 'not here');
  };
  return {
    protocol: 'ipmi',
    powerGet: async () => ({ power }),
    powerSet: async (action) => ((power = action === 'off' ? 'off' : 'on'), { power }),
    bootGet: no as () => Promise<BootOverride>,
    bootSet: no,
    sensors: no,
    identity: no,
    sel: no,
    selClear: no,
    close: async () => undefined,
  };
}

const running: RunningAgent[] = [];
const relays: StandInRelay[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop();
  for (const relay of relays.splice(0)) await relay.close();
});

async function standInRelay(): Promise<StandInRelay> {
  const relay = await startStandInRelay();
  relays.push(relay);
  return relay;
}

describe('startAgent', () => {
  it('builds the control URL from the relay URL', () => {
    expect(controlUrlOf('https://relay.example.net')).toBe('wss://relay.example.net/v1/agent/connect');
    expect(controlUrlOf('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/v1/agent/connect');
  });

  it('refuses, before starting anything, a server whose registration alone cannot fit in a control frame', async () => {
    const huge = { ...server('huge-01'), name: 'x'.repeat(1 << 20) };
    expect(() => startAgent({ config: agentConfigFor('http://127.0.0.1:9', [server('s-1'), huge]), identity: { agentId: 'a', region: 'r', datacenter: 'd', audience: 'aud', relay: '' }, keyPair: { privateKey: undefined as never, publicJwk: undefined as never }, factories: {}, logger: pino({ level: 'silent' }) })).toThrow(
      /server huge-01 alone is \d+ bytes, above the control frame limit/,
    );
  });

  it('registers, answers requests through the drivers and reports a power read as state at once (not the answer to power.set)', async () => {
    const relay = await standInRelay();
    const { received } = relay;
    const agent = startAgent({
      config: agentConfigFor(relay.url, [server('web-01')]),
      identity: relay.identity,
      keyPair: await agentKeyPair(),
      factories: { ipmi: () => powerDriver() },
      logger: pino({ level: 'silent' }),
    });
    running.push(agent);
    const socket = await relay.connected;
    // Bounded wait on what the agent has sent so far.
    const until = (type: string, count = 1) =>
      waitFor(() => `${count} ${type} message(s); got ${JSON.stringify(received.map((message) => message.type))}`, () => received.filter((message) => message.type === type).length >= count, { timeoutMs: 5000, intervalMs: 10 });
    await until('state');
    expect(received.slice(0, 2).map((message) => message.type)).toEqual(['hello', 'inventory']);
    expect(received.find((message) => message.type === 'state')).toEqual({ v: 1, type: 'state', serverId: 'web-01', power: 'on', reachable: true });

    relay.send(socket, { v: 1, type: 'request', id: 'r1', op: 'power.set', params: { serverId: 'web-01', action: 'off' }, timeoutMs: 1000 });
    await until('response');
    expect(received.find((message) => message.type === 'response')).toEqual({ v: 1, type: 'response', id: 'r1', ok: true, result: { power: 'off' } });
    // the answer to a power command is read before the BMC acts: no state from it; a read is reported at once
    relay.send(socket, { v: 1, type: 'request', id: 'r2', op: 'power.get', params: { serverId: 'web-01' }, timeoutMs: 1000 });
    await until('response', 2);
    await until('state', 2);
    expect(received.filter((message) => message.type === 'state')).toHaveLength(2);
    expect(received.filter((message) => message.type === 'state')[1]).toMatchObject({ serverId: 'web-01', power: 'off' });
  });

  it("leaves a BMC to a user's request: the background sensor pass skips a server whose sensors.list is still running", async () => {
    const relay = await standInRelay();
    const { received } = relay;
    let sensorReads = 0;
    let releaseUser: (() => void) | undefined;
    const driver: BmcDriver = {
      ...powerDriver(),
      sensors: async () => {
        sensorReads += 1;
        // The second read is the user's: it runs until the test lets it finish.
        if (sensorReads === 2) await new Promise<void>((resolve) => (releaseUser = resolve));
        return { sensors: [{ name: 'CPU', type: 'temperature', value: 40 + sensorReads, unit: 'Cel', status: 'ok' }] };
      },
    };
    const agent = startAgent({
      config: agentConfigFor(relay.url, [server('web-01')], { poll: { sensorsIntervalMs: 1500 } }),
      identity: relay.identity,
      keyPair: await agentKeyPair(),
      factories: { ipmi: () => driver },
      logger: pino({ level: 'silent' }),
    });
    running.push(agent);
    const socket = await relay.connected;
    const counted = async (counter: 'sensorSamples' | 'sensorSamplesSkipped', label: string) => (await agent.metrics[counter].get()).values.filter((value) => Object.values(value.labels).includes(label)).reduce((sum, value) => sum + value.value, 0);
    await waitFor('the first background read', async () => (await counted('sensorSamples', 'ok')) >= 1, { timeoutMs: 5000, intervalMs: 10 });

    relay.send(socket, { v: 1, type: 'request', id: 'user', op: 'sensors.list', params: { serverId: 'web-01' }, timeoutMs: 10_000 });
    await waitFor('the user read running', () => releaseUser !== undefined, { timeoutMs: 5000, intervalMs: 10 });
    await waitFor('the next pass skipping the busy server', async () => (await counted('sensorSamplesSkipped', 'busy')) >= 1, { timeoutMs: 5000, intervalMs: 10 });
    expect(sensorReads).toBe(2);
    releaseUser!();
    await waitFor('the user read answered', () => received.find((message) => message.type === 'response' && message.id === 'user'), { timeoutMs: 5000, intervalMs: 10 });
    relay.send(socket, { v: 1, type: 'request', id: 'history', op: 'sensors.history', params: { serverId: 'web-01' }, timeoutMs: 5000 });
    const history = await waitFor('the history', () => received.find((message) => message.type === 'response' && message.id === 'history'), { timeoutMs: 5000, intervalMs: 10 });
    expect(history).toMatchObject({ ok: true, result: { series: [[41, 42]], intervalSeconds: 2 } });
  });

  it('logs in at once when an admin asks (credentials.retry), not at the end of the hold-off, and answers and reports what it saw', async () => {
    const relay = await standInRelay();
    const { received } = relay;
    // A BMC whose password is wrong until someone fixes it there; every login goes through the gate, as the drivers' do.
    let passwordFixed = false;
    let logins = 0;
    const gate = new CredentialGate();
    const driver: BmcDriver = {
      ...powerDriver(),
      powerGet: async () => {
        await gate.login(async () => {
          logins += 1;
          if (!passwordFixed) throw new LightsoutError('BMC_AUTH_FAILED', 'RAKP 2 HMAC mismatch');
        });
        return { power: 'on' };
      },
      linkStatus: () => (gate.rejection === undefined ? { protocol: 'ipmi-v2.0', cipherSuite: 17 } : { credentials: 'rejected', retryAt: new Date(gate.rejection.retryAt).toISOString() }),
      retryCredentials: () => gate.retryNow(),
    };
    const agent = startAgent({ config: agentConfigFor(relay.url, [server('web-01')]), identity: relay.identity, keyPair: await agentKeyPair(), factories: { ipmi: () => driver }, logger: pino({ level: 'silent' }) });
    running.push(agent);
    const socket = await relay.connected;
    const states = () => received.filter((message) => message.type === 'state');
    await waitFor('the first poll', () => states().length >= 1, { timeoutMs: 5000, intervalMs: 10 });
    expect(states()[0]).toMatchObject({ serverId: 'web-01', power: 'unknown', reachable: false, bmc: { credentials: 'rejected', error: { code: 'BMC_AUTH_FAILED' } } });
    expect(logins).toBe(1);

    passwordFixed = true;
    relay.send(socket, { v: 1, type: 'request', id: 'retry', op: 'credentials.retry', params: { serverId: 'web-01' }, timeoutMs: 5000 });
    const answer = await waitFor('the retry answered', () => received.find((message) => message.type === 'response' && message.id === 'retry'), { timeoutMs: 5000, intervalMs: 10 });
    expect(answer).toEqual({ v: 1, type: 'response', id: 'retry', ok: true, result: { power: 'on', reachable: true, bmc: { protocol: 'ipmi-v2.0', cipherSuite: 17 } } });
    expect(logins).toBe(2);
    await waitFor('the state reported at once', () => states().length >= 2, { timeoutMs: 5000, intervalMs: 10 });
    expect(states().at(-1)).toMatchObject({ power: 'on', reachable: true, bmc: { protocol: 'ipmi-v2.0', cipherSuite: 17 } });
  });
});
