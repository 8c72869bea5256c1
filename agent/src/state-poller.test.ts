import { describe, expect, it } from 'vitest';
import { eventually } from '@lightsout/lab/tracked-process';
import pino from 'pino';
import { LightsoutError, type StateMessage } from '@lightsout/shared';
import type { ServerEntry } from './config/types.js';
import { DriverRegistry } from './drivers/registry.js';
import type { BmcDriver } from './drivers/types.js';
import { forEachPaced, pollSpreadMs, StatePoller } from './state-poller.js';

const credentials = { username: 'u', password: 'p' };
const ipmiServer = (id: string): ServerEntry => ({
  id,
  name: id,
  tenant: 't',
  rack: 'r',
  labels: {},
  ipmi: { host: '127.0.0.1', port: 623, credentials, cipherSuite: 'auto', privilege: 'administrator', quirks: [] },
});

function driverWith(power: () => Promise<'on' | 'off'>): BmcDriver {
  const unsupported = async (): Promise<never> => {
    throw new LightsoutError('BMC_UNSUPPORTED', 'not in this test');
  };
  return { protocol: 'ipmi', powerGet: async () => ({ power: await power() }), powerSet: unsupported, bootGet: unsupported, bootSet: unsupported, sensors: unsupported, identity: unsupported, sel: unsupported, selClear: unsupported, close: async () => undefined };
}

describe('forEachPaced', () => {
  /** Virtual time: sleeping moves the clock; work takes a few turns of the microtask queue. */
  function virtualClock() {
    let now = 0;
    return { now: () => now, sleep: async (ms: number) => void (now += ms) };
  }

  it('never runs more than the limit at once, visits every item once, and starts item i no earlier than i × spread / n', async () => {
    const clock = virtualClock();
    let inFlight = 0;
    let peak = 0;
    const started: Array<[number, number]> = [];
    const items = [...Array(1000).keys()];
    await forEachPaced(items, { concurrency: 4, spreadMs: 1600, clock }, async (item) => {
      started.push([item, clock.now()]);
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      for (let turn = 0; turn < 1 + (item % 5); turn += 1) await Promise.resolve();
      inFlight -= 1;
    });
    expect(peak).toBeLessThanOrEqual(4);
    expect(started.map(([item]) => item)).toEqual(items);
    for (const [item, at] of started) expect(at).toBeGreaterThanOrEqual(item * 1.6 - 1);
    expect(started.at(-1)![1]).toBeGreaterThanOrEqual(1598 - 1);
  });

  it('starts nothing more once stopped', async () => {
    const clock = virtualClock();
    const seen: number[] = [];
    await forEachPaced([...Array(100).keys()], { concurrency: 2, spreadMs: 1000, clock, stopped: () => clock.now() >= 500 }, async (item) => void seen.push(item));
    expect(seen.length).toBeGreaterThan(40);
    expect(seen.length).toBeLessThan(55);
  });

  it('spreads a large fleet over most of the interval, and polls a small one at once', () => {
    expect(pollSpreadMs(10_000, 30_000)).toBe(24_000);
    expect(pollSpreadMs(3, 30_000)).toBe(30);
  });
});

describe('StatePoller', () => {
  it('reports changes only, skips servers without a driver, and resends after reconnect', async () => {
    const power: Record<string, 'on' | 'off' | 'fail'> = { a: 'on', b: 'off' };
    const registry = new DriverRegistry(
      [ipmiServer('a'), ipmiServer('b'), { id: 'c', name: 'c', tenant: 't', rack: 'r', labels: {}, vnc: { url: 'vnc://x:1' } }],
      {
        ipmi: (_endpoint, context) =>
          driverWith(async () => {
            const state = power[context.serverId]!;
            if (state === 'fail') throw new LightsoutError('BMC_UNREACHABLE', 'down');
            return state;
          }),
      },
      pino({ level: 'silent' }),
    );
    const sent: StateMessage[] = [];
    let connected = true;
    const poller = new StatePoller({
      registry,
      serverIds: ['a', 'b', 'c'],
      intervalMs: 3_600_000,
      concurrency: 2,
      timeoutMs: 1000,
      send: (message) => connected && sent.push(message) > 0,
      logger: pino({ level: 'silent' }),
    });
    const summary = () => sent.map((message) => `${message.serverId}:${message.power}:${message.reachable}`);

    await poller.pollNow();
    expect(summary()).toEqual(['a:on:true', 'b:off:true']);
    await poller.pollNow();
    expect(summary()).toHaveLength(2);

    power['b'] = 'fail';
    connected = false;
    await poller.pollNow();
    expect(summary()).toHaveLength(2);
    connected = true;
    poller.resend();
    expect(summary().slice(2).sort()).toEqual(['a:on:true', 'b:unknown:false']);

    // An answer to a power request is reported at once, and only when it changes something.
    poller.observe('a', 'off');
    poller.observe('a', 'off');
    expect(summary().slice(4)).toEqual(['a:off:true']);
    await poller.stop();
  });

  it('says why the power is unknown: the failed read\'s code and the BMC\'s words go with the state, and go away with the next good read', async () => {
    let failure: LightsoutError | undefined = new LightsoutError('NOT_FOUND', 'the BMC has no system "lab-node-1"; it has /redfish/v1/Systems/437XR1138R2');
    const registry = new DriverRegistry(
      [ipmiServer('named')],
      {
        ipmi: () =>
          driverWith(async () => {
            if (failure) throw failure;
            return 'on';
          }),
      },
      pino({ level: 'silent' }),
    );
    const sent: StateMessage[] = [];
    const poller = new StatePoller({ registry, serverIds: ['named'], intervalMs: 3_600_000, concurrency: 1, timeoutMs: 1000, send: (message) => sent.push(message) > 0, logger: pino({ level: 'silent' }) });
    await poller.pollNow();
    expect(sent).toEqual([
      expect.objectContaining({ serverId: 'named', power: 'unknown', reachable: false, bmc: { error: { code: 'NOT_FOUND', message: 'the BMC has no system "lab-node-1"; it has /redfish/v1/Systems/437XR1138R2' } } }),
    ]);
    // Another failure replaces the reason shown.
    failure = new LightsoutError('BMC_TIMEOUT', 'no answer');
    await poller.pollNow();
    expect(sent.at(-1)).toMatchObject({ power: 'unknown', bmc: { error: { code: 'BMC_TIMEOUT', message: 'no answer' } } });
    failure = undefined;
    await poller.pollNow();
    expect(sent.at(-1)).toMatchObject({ power: 'on', reachable: true });
    expect(sent.at(-1)!.bmc).toBeUndefined();
    await poller.stop();
  });

  it('spreads a round over the interval, reports as it goes, and stops mid-round without waiting for its end', async () => {
    const ids = Array.from({ length: 400 }, (_, index) => `s-${index}`);
    const registry = new DriverRegistry(ids.map(ipmiServer), { ipmi: () => driverWith(async () => 'on') }, pino({ level: 'silent' }));
    const sent: StateMessage[] = [];
    // 400 polls over 80 % of 5 s: one every 10 ms, the whole round 4 s.
    const poller = new StatePoller({ registry, serverIds: ids, intervalMs: 5000, concurrency: 8, timeoutMs: 1000, send: (message) => sent.push(message) > 0, logger: pino({ level: 'silent' }) });
    const round = poller.pollNow();
    const began = performance.now();
    await eventually('the first states', 3000, async () => (sent.length >= 10 ? true : undefined));
    await poller.stop();
    const stoppedAfter = performance.now() - began;
    await round;
    expect(sent.length).toBeLessThan(400);
    expect(stoppedAfter).toBeLessThan(3500);
  });
});
