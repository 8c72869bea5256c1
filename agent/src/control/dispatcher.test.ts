import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { LightsoutError, type BootOverride, type PowerAction, type RequestMessage, type SensorList } from '@lightsout/shared';
import type { ServerEntry } from '../config/types.js';
import { DriverRegistry } from '../drivers/registry.js';
import type { BmcDriver } from '../drivers/types.js';
import { createDispatcher, effectiveTimeoutMs } from './dispatcher.js';
import { DEFAULT_QUEUED_PER_SERVER } from './per-server-limiter.js';

/** An in-memory BMC: the dispatcher's contract is routing, validation and error shape, not protocol. */
class MemoryDriver implements BmcDriver {
  readonly protocol = 'ipmi' as const;
  power: 'on' | 'off' = 'off';
  boot: BootOverride = { device: 'none', persistent: false, uefi: false };
  hang = false;
  closed = 0;
  async powerGet() {
    if (this.hang) return new Promise<never>(() => undefined);
    return { power: this.power };
  }
  async powerSet(action: PowerAction) {
    if (action === 'soft') throw new LightsoutError('BMC_UNREACHABLE', 'no answer from 10.0.0.5:623');
    this.power = action === 'off' ? 'off' : 'on';
    return { power: this.power };
  }
  async bootGet() {
    return this.boot;
  }
  async bootSet(override: BootOverride) {
    this.boot = override;
    return override;
  }
  async sensors(): Promise<SensorList> {
    throw new Error('driver bug with internal detail');
  }
  async identity() {
    return { source: 'ipmi' as const, vendor: 'Dell', manufacturerId: 674, productId: 256, bmcFirmware: '7.10' };
  }
  async sel() {
    return { entries: [] };
  }
  async selClear() {}
  async close() {
    this.closed += 1;
  }
}

const credentials = { username: 'admin', password: 'secret' };
const servers: ServerEntry[] = [
  { id: 'web-01', name: 'web-01', tenant: 'demo', rack: 'r1', labels: {}, ipmi: { host: '127.0.0.1', port: 623, credentials, cipherSuite: 'auto', privilege: 'administrator', quirks: [] } },
  { id: 'vnc-only', name: 'vnc-only', tenant: 'demo', rack: 'r1', labels: {}, vnc: { url: 'vnc://127.0.0.1:5900' } },
];

function setup() {
  const driver = new MemoryDriver();
  const built: string[] = [];
  const registry = new DriverRegistry(servers, { ipmi: (endpoint, context) => (built.push(`${context.serverId}@${endpoint.host}:${endpoint.port}`), driver) }, pino({ level: 'silent' }));
  const dispatch = createDispatcher({ registry, maxTimeoutMs: 1000, handlers: { 'stream.close': async (params) => ({ closed: params['sessionId'] }) } });
  const request = (op: string, params: Record<string, unknown>, timeoutMs = 1000): RequestMessage => ({ v: 1, type: 'request', id: 'r1', op, params, timeoutMs });
  return { driver, built, registry, dispatch, request };
}

describe('request dispatcher', () => {
  it('routes power, boot, event log and identity ops to the server driver, built once from its endpoint', async () => {
    const { dispatch, request, built } = setup();
    expect(await dispatch(request('power.set', { serverId: 'web-01', action: 'on' }))).toEqual({ ok: true, result: { power: 'on' } });
    expect(await dispatch(request('power.get', { serverId: 'web-01' }))).toEqual({ ok: true, result: { power: 'on' } });
    expect(await dispatch(request('boot.set', { serverId: 'web-01', device: 'pxe', uefi: true }))).toEqual({ ok: true, result: { device: 'pxe', persistent: false, uefi: true } });
    expect(await dispatch(request('sel.clear', { serverId: 'web-01' }))).toEqual({ ok: true, result: {} });
    expect(await dispatch(request('identity.get', { serverId: 'web-01' }))).toEqual({ ok: true, result: { source: 'ipmi', vendor: 'Dell', manufacturerId: 674, productId: 256, bmcFirmware: '7.10' } });
    expect(built).toEqual(['web-01@127.0.0.1:623']);
  });

  it('returns driver errors as {code, message} and hides unexpected ones behind INTERNAL', async () => {
    const { dispatch, request } = setup();
    expect(await dispatch(request('power.set', { serverId: 'web-01', action: 'soft' }))).toEqual({ ok: false, error: { code: 'BMC_UNREACHABLE', message: 'no answer from 10.0.0.5:623' } });
    expect(await dispatch(request('sensors.list', { serverId: 'web-01' }))).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'the agent failed to run the operation' } });
  });

  it('refuses unknown ops, unknown servers, bad params and servers without a driver with distinct codes', async () => {
    const { dispatch, request } = setup();
    const codeOf = async (message: RequestMessage) => {
      const outcome = await dispatch(message);
      return outcome.ok ? 'ok' : outcome.error.code;
    };
    expect(await codeOf(request('power.explode', { serverId: 'web-01' }))).toBe('BMC_UNSUPPORTED');
    expect(await codeOf(request('__proto__', { serverId: 'web-01' }))).toBe('BMC_UNSUPPORTED');
    expect(await codeOf(request('power.get', { serverId: 'nope' }))).toBe('NOT_FOUND');
    expect(await codeOf(request('power.set', { serverId: 'web-01', action: 'explode' }))).toBe('BAD_REQUEST');
    expect(await codeOf(request('power.get', {}))).toBe('BAD_REQUEST');
    expect(await codeOf(request('power.get', { serverId: 'vnc-only' }))).toBe('BMC_UNSUPPORTED');
  });

  it('gives up with BMC_TIMEOUT at the request deadline', async () => {
    const { dispatch, request, driver } = setup();
    driver.hang = true;
    const started = Date.now();
    expect(await dispatch(request('power.get', { serverId: 'web-01' }, 50))).toMatchObject({ ok: false, error: { code: 'BMC_TIMEOUT' } });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('gives up on a handler at the deadline with the code it names: AGENT_TIMEOUT for the agent\'s own work (retryable), BMC_TIMEOUT by default', async () => {
    const { registry, request } = setup();
    const hang = () => new Promise<never>(() => undefined);
    const dispatch = createDispatcher({ registry, maxTimeoutMs: 1000, handlers: { 'stream.open': Object.assign(() => hang(), { timeoutCode: 'AGENT_TIMEOUT' as const }), 'media.mount': () => hang() } });
    expect(await dispatch(request('stream.open', { serverId: 'web-01' }, 50))).toMatchObject({ ok: false, error: { code: 'AGENT_TIMEOUT', message: expect.stringContaining('stream.open did not finish within') } });
    expect(await dispatch(request('media.mount', { serverId: 'web-01' }, 50))).toMatchObject({ ok: false, error: { code: 'BMC_TIMEOUT' } });
  });

  it('aborts a handler\'s signal at the deadline it answered, so its queued work is given up, and once an answer settles', async () => {
    const { registry, request } = setup();
    const signals: AbortSignal[] = [];
    const dispatch = createDispatcher({
      registry,
      maxTimeoutMs: 1000,
      handlers: {
        'stream.open': (_params, _request, settled) => (signals.push(settled), new Promise<never>(() => undefined)),
        'stream.close': async (_params, _request, settled) => (signals.push(settled), { aborted: settled.aborted }),
      },
    });
    expect(await dispatch(request('stream.open', { serverId: 'web-01' }, 50))).toMatchObject({ ok: false, error: { code: 'BMC_TIMEOUT' } });
    expect(signals[0]!.aborted).toBe(true);
    // Not aborted while the handler runs; aborted once its answer is sent.
    expect(await dispatch(request('stream.close', { sessionId: 'abc' }, 5000))).toEqual({ ok: true, result: { aborted: false } });
    expect(signals[1]!.aborted).toBe(true);
  });

  it('answers before the relay gives up: 10 % margin, at most 1 s, never above the agent ceiling', () => {
    expect(effectiveTimeoutMs(15_000, 30_000)).toBe(14_000);
    expect(effectiveTimeoutMs(500, 30_000)).toBe(450);
    expect(effectiveTimeoutMs(15_000, 5000)).toBe(5000);
    expect(effectiveTimeoutMs(1, 5000)).toBe(1);
  });

  it('hands non-driver ops to registered handlers', async () => {
    const { dispatch, request } = setup();
    expect(await dispatch(request('stream.close', { sessionId: 'abc' }))).toEqual({ ok: true, result: { closed: 'abc' } });
  });

  it('closes every built driver once on registry close', async () => {
    const { dispatch, request, registry, driver } = setup();
    await dispatch(request('power.get', { serverId: 'web-01' }));
    await registry.close();
    expect(driver.closed).toBe(1);
    expect(registry.driverFor('web-01')).toBeUndefined();
  });

  it("answers BMC_BUSY at once beyond a server's queue, without running or logging each refusal: memory stays bounded", async () => {
    const { driver, registry, request } = setup();
    driver.hang = true;
    const failures: unknown[] = [];
    const dispatch = createDispatcher({ registry, maxTimeoutMs: 1000, onError: (_request, error) => failures.push(error) });
    const running = 2;
    const accepted = running + DEFAULT_QUEUED_PER_SERVER;
    const settled = new Set<number>();
    const outcomes = Array.from({ length: 1000 }, (_, index) => dispatch(request('power.get', { serverId: 'web-01' }, 30_000)).then((outcome) => (settled.add(index), outcome)));
    const refused = await Promise.all(outcomes.slice(accepted));
    expect(new Set(refused.map((outcome) => (outcome.ok ? 'ok' : outcome.error.code)))).toEqual(new Set(['BMC_BUSY']));
    expect(refused[0]).toEqual({ ok: false, error: { code: 'BMC_BUSY', message: 'web-01 has 2 operations running and 64 waiting; try again shortly' } });
    // The first 66 still wait for the hung BMC: only they hold memory; the refusals were not logged one by one.
    expect([...settled].filter((index) => index < accepted)).toEqual([]);
    expect(failures).toEqual([]);
    const timedOut = await Promise.all(outcomes.slice(0, accepted));
    expect(new Set(timedOut.map((outcome) => (outcome.ok ? 'ok' : outcome.error.code)))).toEqual(new Set(['BMC_TIMEOUT']));
  });
});
