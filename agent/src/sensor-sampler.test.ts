import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { LightsoutError, type BmcLinkStatus, type SensorList } from '@lightsout/shared';
import type { ServerEntry } from './config/types.js';
import { PerServerLimiter } from './control/per-server-limiter.js';
import { DriverRegistry } from './drivers/registry.js';
import type { BmcDriver } from './drivers/types.js';
import { SensorHistoryStore } from './sensor-history.js';
import { backoffPasses, SensorSampler, type SampleSkip, type SensorSamplerOptions } from './sensor-sampler.js';

const credentials = { username: 'u', password: 'p' };
const ipmiServer = (id: string): ServerEntry => ({
  id,
  name: id,
  tenant: 't',
  rack: 'r',
  labels: {},
  ipmi: { host: '127.0.0.1', port: 623, credentials, cipherSuite: 'auto', privilege: 'administrator', quirks: [] },
});

/** A BMC whose sensor read takes `readMs` of (fake) time; `fail` makes the next reads fail. */
interface FakeBmc {
  reads: number[];
  fail: boolean;
  link?: BmcLinkStatus;
}

function fleet(ids: string[], readMs = 100) {
  const bmcs = new Map(ids.map((id) => [id, { reads: [], fail: false } as FakeBmc]));
  let inFlight = 0;
  let peak = 0;
  const unsupported = async (): Promise<never> => {
    throw new LightsoutError('BMC_UNSUPPORTED', 'not in this test');
  };
  const registry = new DriverRegistry(
    ids.map(ipmiServer),
    {
      ipmi: (_endpoint, context): BmcDriver => {
        const bmc = bmcs.get(context.serverId)!;
        return {
          protocol: 'ipmi',
          sensors: async (): Promise<SensorList> => {
            bmc.reads.push(Date.now());
            inFlight += 1;
            peak = Math.max(peak, inFlight);
            try {
              await new Promise((resolve) => setTimeout(resolve, readMs));
              if (bmc.fail) throw new LightsoutError('BMC_UNREACHABLE', 'no answer');
              return { sensors: [{ name: 'CPU', type: 'temperature', value: 40 + bmc.reads.length, unit: 'Cel', status: 'ok' }] };
            } finally {
              inFlight -= 1;
            }
          },
          linkStatus: () => bmc.link ?? {},
          powerGet: unsupported,
          powerSet: unsupported,
          bootGet: unsupported,
          bootSet: unsupported,
          identity: unsupported,
          sel: unsupported,
          selClear: unsupported,
          close: async () => undefined,
        };
      },
    },
    pino({ level: 'silent' }),
  );
  return { registry, bmcs, peak: () => peak };
}

const samplers: SensorSampler[] = [];

function sampler(ids: string[], options: Partial<SensorSamplerOptions> & { readMs?: number } = {}) {
  const { registry, bmcs, peak } = fleet(ids, options.readMs);
  const skipped: SampleSkip[] = [];
  const passes: number[] = [];
  const store = options.store ?? new SensorHistoryStore();
  const limiter = options.limiter ?? new PerServerLimiter(2);
  const instance = new SensorSampler({
    registry,
    serverIds: () => ids,
    store,
    intervalMs: 10_000,
    concurrency: 4,
    timeoutMs: 5_000,
    limiter,
    logger: pino({ level: 'silent' }),
    onSkipped: (reason) => skipped.push(reason),
    onPass: (seconds) => passes.push(seconds),
    ...options,
  });
  samplers.push(instance);
  return { instance, bmcs, store, limiter, skipped, passes, peak };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'], now: 1_000_000 });
});

afterEach(async () => {
  const stopping = samplers.splice(0).map((instance) => instance.stop());
  await vi.runOnlyPendingTimersAsync();
  await Promise.all(stopping);
  vi.useRealTimers();
});

describe('SensorSampler', () => {
  it('spreads a pass evenly over 80 % of the interval with bounded concurrency, and starts the next one an interval later', async () => {
    const ids = Array.from({ length: 40 }, (_, index) => `s${index}`);
    const { instance, bmcs, store, passes, peak } = sampler(ids, { concurrency: 2, readMs: 150 });
    instance.start();
    await vi.advanceTimersByTimeAsync(9_999);
    const first = ids.map((id) => bmcs.get(id)!.reads);
    expect(first.every((reads) => reads.length === 1)).toBe(true);
    // Server i starts at i × 8,000 / 40 ms after the pass began, never all at once.
    for (const [index, reads] of first.entries()) expect(reads[0]! - 1_000_000).toBeGreaterThanOrEqual(index * 200);
    expect(first.at(-1)![0]! - 1_000_000).toBeLessThan(8_000 + 200);
    expect(peak()).toBeLessThanOrEqual(2);
    expect(passes).toHaveLength(1);
    expect(passes[0]).toBeGreaterThanOrEqual(7.8);
    expect(passes[0]).toBeLessThan(10);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(bmcs.get('s0')!.reads).toEqual([1_000_000, 1_010_000]);
    expect(store.history('s0')).toMatchObject({ at: [1_000_150, 1_010_150], series: [[41, 42]] });
    expect(instance.intervalSecondsFor('s0')).toBe(10);
  });

  it('backs off a failing BMC for 1, 2, 4, 8 then 16 passes, and reads it every pass again once it answers', async () => {
    expect([1, 2, 3, 4, 5, 6, 40].map(backoffPasses)).toEqual([1, 2, 4, 8, 16, 16, 16]);
    const { instance, bmcs, skipped } = sampler(['down', 'up']);
    bmcs.get('down')!.fail = true;
    instance.start();
    // Passes 1..16 begin at 0, 10 s, … 150 s.
    await vi.advanceTimersByTimeAsync(15 * 10_000 + 5_000);
    const passOf = (at: number) => Math.floor((at - 1_000_000) / 10_000) + 1;
    expect(bmcs.get('down')!.reads.map(passOf)).toEqual([1, 2, 4, 8, 16]);
    expect(bmcs.get('up')!.reads).toHaveLength(16);
    expect(skipped.filter((reason) => reason === 'backoff')).toHaveLength(11);
    expect(instance.backingOff).toBe(1);
    bmcs.get('down')!.fail = false;
    await vi.advanceTimersByTimeAsync(16 * 10_000);
    // Pass 32 reads it again (16 + 16) and succeeds; 33 follows.
    expect(bmcs.get('down')!.reads.map(passOf)).toEqual([1, 2, 4, 8, 16, 32]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(bmcs.get('down')!.reads.map(passOf)).toEqual([1, 2, 4, 8, 16, 32, 33]);
    expect(instance.backingOff).toBe(0);
  });

  it('does not log in to a BMC that rejected the credentials', async () => {
    const { instance, bmcs, skipped } = sampler(['locked', 'fine']);
    bmcs.get('locked')!.link = { credentials: 'rejected', retryAt: new Date(2_000_000).toISOString() };
    instance.start();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(bmcs.get('locked')!.reads).toEqual([]);
    expect(bmcs.get('fine')!.reads).toHaveLength(1);
    expect(skipped).toEqual(['credentials']);
  });

  it('does not wait on a BMC the power poller last found unreachable', async () => {
    const { instance, bmcs, skipped } = sampler(['dark', 'lit'], { unreachable: (serverId) => serverId === 'dark' });
    instance.start();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(bmcs.get('dark')!.reads).toEqual([]);
    expect(bmcs.get('lit')!.reads).toHaveLength(1);
    expect(skipped).toEqual(['unreachable']);
  });

  it("leaves a server to a user's operation running or waiting on it, and to a user's read within half an interval", async () => {
    const { instance, bmcs, store, limiter, skipped } = sampler(['busy', 'read', 'idle']);
    let release!: () => void;
    const userOperation = limiter.run('busy', new AbortController().signal, () => new Promise<void>((resolve) => (release = resolve)));
    store.record('read', Date.now() - 1_000, [{ name: 'CPU', type: 'temperature', value: 1, unit: 'Cel', status: 'ok' }]);
    instance.start();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(bmcs.get('busy')!.reads).toEqual([]);
    expect(bmcs.get('read')!.reads).toEqual([]);
    expect(bmcs.get('idle')!.reads).toHaveLength(1);
    expect(skipped.sort()).toEqual(['busy', 'recent']);
    release();
    await userOperation;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(bmcs.get('busy')!.reads).toHaveLength(1);
    expect(bmcs.get('read')!.reads).toHaveLength(1);
  });

  it('holds a user request for the same BMC back by nothing: the sample takes one slot of two', async () => {
    const { instance, limiter } = sampler(['s1'], { readMs: 5_000 });
    instance.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(limiter.running('s1')).toBe(1);
    let started = false;
    const user = limiter.run('s1', new AbortController().signal, async () => void (started = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toBe(true);
    await user;
  });

  it('reads only the servers the store has room for, the same ones every pass', async () => {
    const store = new SensorHistoryStore(720, 2);
    const { instance, bmcs, skipped } = sampler(['a', 'b', 'c', 'd'], { store });
    instance.start();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(['a', 'b', 'c', 'd'].map((id) => bmcs.get(id)!.reads.length)).toEqual([3, 3, 0, 0]);
    expect(store.size).toBe(2);
    expect(skipped.filter((reason) => reason === 'full')).toHaveLength(6);
  });

  it('stops at once, mid-pass or between passes, and samples nothing when the interval is 0', async () => {
    const { instance, bmcs } = sampler(['a', 'b'], { intervalMs: 60_000 });
    instance.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(bmcs.get('a')!.reads).toHaveLength(1);
    const stopped = instance.stop();
    await vi.advanceTimersByTimeAsync(200);
    await stopped;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(bmcs.get('b')!.reads).toEqual([]);
    const off = sampler(['a'], { intervalMs: 0 });
    off.instance.start();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(off.bmcs.get('a')!.reads).toEqual([]);
    expect(off.instance.intervalSecondsFor('a')).toBe(0);
  });
});
