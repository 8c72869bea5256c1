import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { LightsoutError, type PowerState } from '@lightsout/shared';
import type { ServerEntry } from '../config/types.js';
import { DriverRegistry } from '../drivers/registry.js';
import type { BmcDriver } from '../drivers/types.js';
import { PowerAwaiter } from './power-await.js';

const ipmiServer = (id: string): ServerEntry => ({
  id,
  name: id,
  tenant: 't',
  rack: 'r',
  labels: {},
  ipmi: { host: '127.0.0.1', port: 623, credentials: { username: 'u', password: 'p' }, cipherSuite: 'auto', privilege: 'administrator', quirks: [] },
});

/** A BMC whose power reads answer from a script, one entry per read (the last repeats); `fail` throws like a lost session. */
function scriptedBmc(script: Array<PowerState | 'fail'>): { driver: BmcDriver; reads: () => number } {
  let reads = 0;
  const unsupported = async (): Promise<never> => {
    throw new LightsoutError('BMC_UNSUPPORTED', 'not in this test');
  };
  const driver: BmcDriver = {
    protocol: 'ipmi',
    powerGet: async () => {
      const next = script[Math.min(reads, script.length - 1)]!;
      reads += 1;
      if (next === 'fail') throw new LightsoutError('BMC_TIMEOUT', 'no answer');
      return { power: next };
    },
    powerSet: unsupported,
    bootGet: unsupported,
    bootSet: unsupported,
    sensors: unsupported,
    identity: unsupported,
    sel: unsupported,
    selClear: unsupported,
    close: async () => undefined,
  };
  return { driver, reads: () => reads };
}

function awaiterFor(script: Array<PowerState | 'fail'>) {
  const bmc = scriptedBmc(script);
  const registry = new DriverRegistry([ipmiServer('s1')], { ipmi: () => bmc.driver }, pino({ level: 'silent' }));
  const observed: PowerState[] = [];
  const awaiter = new PowerAwaiter({ registry, observe: (_serverId, power) => observed.push(power), readTimeoutMs: 1000 });
  return { awaiter, observed, reads: bmc.reads };
}

describe('power.await on the agent', () => {
  it('confirms a cycle only after an off was read and then the target: an "on" before the off is the state from before', async () => {
    const { awaiter, observed } = awaiterFor(['on', 'off', 'off', 'on']);
    const result = await awaiter.run({ serverId: 's1', target: 'on', needsOff: true, intervalsMs: [50], deadlineMs: 5000 });
    expect(result).toEqual({ power: 'on', confirmed: true, reads: 4 });
    // every read is reported upstream (the poller sends a change at once)
    expect(observed).toEqual(['on', 'off', 'off', 'on']);
  });

  it('without an off owed, the first read of the target confirms', async () => {
    const { awaiter } = awaiterFor(['on']);
    expect(await awaiter.run({ serverId: 's1', target: 'on', needsOff: false, intervalsMs: [50], deadlineMs: 5000 })).toEqual({ power: 'on', confirmed: true, reads: 1 });
  });

  it('a failed read is not an observation: it does not confirm, and the next read does', async () => {
    const { awaiter, reads } = awaiterFor(['fail', 'fail', 'off']);
    expect(await awaiter.run({ serverId: 's1', target: 'off', needsOff: false, intervalsMs: [50], deadlineMs: 5000 })).toEqual({ power: 'off', confirmed: true, reads: 1 });
    expect(reads()).toBe(3);
  });

  it('past the deadline without the target it answers unconfirmed, with the last state read', async () => {
    const { awaiter } = awaiterFor(['on']);
    const result = await awaiter.run({ serverId: 's1', target: 'off', needsOff: false, intervalsMs: [50], deadlineMs: 300 });
    expect(result.confirmed).toBe(false);
    expect(result.power).toBe('on');
    expect(result.reads).toBeGreaterThanOrEqual(1);
  });

  it('a newer action on the server ends the wait unconfirmed', async () => {
    const { awaiter } = awaiterFor(['on']);
    const waiting = awaiter.run({ serverId: 's1', target: 'off', needsOff: false, intervalsMs: [50], deadlineMs: 60_000 });
    awaiter.supersede('s1');
    expect(await waiting).toMatchObject({ confirmed: false });
  });

  it('refuses bad params and unknown servers with typed errors', async () => {
    const { awaiter } = awaiterFor(['on']);
    await expect(awaiter.run({ serverId: 's1', target: 'sideways', needsOff: false, intervalsMs: [50], deadlineMs: 100 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(awaiter.run({ serverId: 'nope', target: 'on', needsOff: false, intervalsMs: [50], deadlineMs: 100 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
