import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { startFleet, type Fleet, type FleetBmc } from '@lightsout/bmcsim';
import { createIpmiDriver, openIpmiSession, SuiteCache, type IpmiDriver, type RmcpPlusSessionView } from '@lightsout/agent/ipmi';

/**
 * The agent's IPMI driver against the project's simulated BMC: suite 17 (which
 * ipmi_sim lacks), the fallbacks bmcsim can force (no suite 17, v1.5 only),
 * power events in the SEL, and SOL with "already active" held by another
 * session. ipmi_sim is the third-party peer for the rest (agent/src/ipmi).
 */
let fleet: Fleet;
const byIndex = (index: number): FleetBmc => fleet.bmcs[index]!;
const credentials = { username: 'admin', password: 'adminpass' };
const drivers: IpmiDriver[] = [];
const driverFor = (index: number) => {
  const { host, port } = byIndex(index).ipmi;
  const driver = createIpmiDriver({ host, port, credentials });
  drivers.push(driver);
  return driver;
};

beforeAll(async () => {
  const faults = [{}, { noSuite17: true }, { v15Only: true }, { solHeldByOtherSession: true }, { dropRakpReply: 2 as const }, { dropRakpReply: 4 as const }, { udpLossPercent: 10 }];
  fleet = await startFleet({ count: faults.length, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, faultsFor: (index) => faults[index], timings: { postMs: 10, bootMs: 10, shutdownMs: 50, cycleMs: 50 } });
});
afterAll(async () => {
  await Promise.all(drivers.map((driver) => driver.close()));
  await fleet?.stop();
});

describe('IpmiDriver against bmcsim', () => {
  it('negotiates suite 17, falls back to 3 without it, and to v1.5 on a v1.5-only BMC', async () => {
    const suites: Array<number | string> = [];
    for (const index of [0, 1, 2]) {
      const { host, port } = byIndex(index).ipmi;
      const session = await openIpmiSession({ host, port, ...credentials, suiteCache: new SuiteCache() });
      suites.push('suite' in session ? ((session as RmcpPlusSessionView).suite?.id ?? 'none') : 'v1.5');
      await session.close();
    }
    expect(suites).toEqual([17, 3, 'v1.5']);
  });

  it('powers off and on, observed by the simulated host, and the SEL logs the power events', async () => {
    const driver = driverFor(0);
    const host = byIndex(0).bmc.host;
    const before = (await driver.sel()).entries.length;
    await driver.powerSet('off');
    await expect.poll(() => host.powerState, { timeout: 5000 }).toBe('off');
    expect(await driver.powerGet()).toEqual({ power: 'off' });
    await driver.powerSet('on');
    await expect.poll(() => host.powerState, { timeout: 5000 }).not.toBe('off');
    expect(await driver.powerGet()).toEqual({ power: 'on' });
    const { entries } = await driver.sel();
    expect(entries.length).toBeGreaterThanOrEqual(before + 2);
    expect(entries.slice(before).every((entry) => typeof entry.event === 'string' && entry.event.length > 0)).toBe(true);
    // Booted before the next test: a host still in POST spends a once-override set meanwhile (the boot test's) when it boots.
    await expect.poll(() => host.powerState, { timeout: 15_000 }).toBe('running');
  });

  it('sets the boot override and reads it back; lists sensors with values', async () => {
    const driver = driverFor(0);
    expect(await driver.bootSet({ device: 'pxe', persistent: false, uefi: true })).toEqual({ device: 'pxe', persistent: false, uefi: true });
    expect(byIndex(0).bmc.host.bootOverride).toMatchObject({ device: 'pxe' });
    const { sensors } = await driver.sensors();
    expect(sensors.length).toBeGreaterThan(0);
    expect(sensors.some((sensor) => sensor.type === 'temperature' && typeof sensor.value === 'number')).toBe(true);
  });

  it('carries SOL output byte-exactly over suite 17', async () => {
    const driver = driverFor(0);
    const chunks: Uint8Array[] = [];
    await driver.sol().attach('viewer', { mode: 'control' }, { onData: (bytes) => chunks.push(bytes.slice()) });
    const output = randomBytes(64 * 1024);
    byIndex(0).bmc.host.writeConsole(output);
    await expect.poll(() => Buffer.concat(chunks).includes(output), { timeout: 15_000 }).toBe(true);
  });

  it('restarts the whole handshake on a timeout, a bounded number of times, then fails with the step named', async () => {
    for (const [index, step] of [[4, 'RAKP 1'], [5, 'RAKP 3']] as const) {
      const { host, port } = byIndex(index).ipmi;
      let restarts = 0;
      const logger = { debug: (_fields: Record<string, unknown>, message: string) => void (message.includes('restarting') && restarts++) };
      const failure = await openIpmiSession({ host, port, ...credentials, suiteCache: new SuiteCache(), logger, timing: { handshakeTimeoutMs: 100, handshakeAttempts: 3 } }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LightsoutError);
      expect((failure as LightsoutError).code).toBe('BMC_TIMEOUT');
      expect((failure as LightsoutError).details).toMatchObject({ step });
      expect(restarts).toBe(3);
    }
  });

  it('keeps answering through 10% datagram loss each way (retransmits and handshake restarts)', async () => {
    const { host, port } = byIndex(6).ipmi;
    const driver = createIpmiDriver({ host, port, credentials, timing: { handshakeTimeoutMs: 200, handshakeAttempts: 20, requestTimeoutMs: 100, requestRetries: 8 } });
    drivers.push(driver);
    for (let round = 0; round < 10; round++) expect(await driver.powerGet()).toEqual({ power: 'on' });
  });

  it('reports SOL held by another session as BMC_BUSY, and takes it over when asked', async () => {
    const driver = driverFor(3);
    const refused = await driver.sol().attach('viewer', { mode: 'control' }, { onData: () => undefined }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LightsoutError);
    expect((refused as LightsoutError).code).toBe('BMC_BUSY');
    const viewer = await driver.sol().attach('root', { mode: 'control', takeover: true }, { onData: () => undefined });
    expect(viewer.tookOver).toBe(true);
    viewer.detach();
  });
});
