import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { LightsoutError, type StateMessage } from '@lightsout/shared';
import type { ServerEntry } from './config/types.js';
import { DriverRegistry } from './drivers/registry.js';
import type { BmcDriver } from './drivers/types.js';
import { forEachBounded, StatePoller } from './state-poller.js';

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
  return { protocol: 'ipmi', powerGet: async () => ({ power: await power() }), powerSet: unsupported, bootGet: unsupported, bootSet: unsupported, sensors: unsupported, sel: unsupported, selClear: unsupported, close: async () => undefined };
}

describe('forEachBounded', () => {
  it('never runs more than the limit at once and visits every item', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachBounded([...Array(20).keys()], 3, async (item) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await Promise.resolve();
      await Promise.resolve();
      seen.push(item);
      inFlight -= 1;
    });
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
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
});
