import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { startFleet, type Fleet, type FleetBmc, type IpmiLanServer } from '@lightsout/bmcsim';
import { createIpmiDriver, openIpmiSession, SolSession, SuiteCache, type IpmiDriver, type RmcpPlusSessionView, type SolHubEvent } from '@lightsout/agent/ipmi';

/**
 * The agent's IPMI driver against bmcsim's fault knobs for behaviour seen on
 * independent BMCs: a BMC that answers a suite-17 Open Session with suite 3's
 * algorithms, one without Get Payload Instance Info (0x4B → 0xC1), one with a
 * SEL but no SDR repository. pyghmi's BMC (lab/) is the third-party peer for
 * the same behaviours.
 */
let fleet: Fleet;
const SUITE3 = 0;
const NO_INSTANCE_INFO = 1;
const NO_SDR = 2;
const PLAIN = 3;
const PLAIN_SOL = 4;
const byIndex = (index: number): FleetBmc => fleet.bmcs[index]!;
const credentials = { username: 'admin', password: 'adminpass' };
let drivers: IpmiDriver[] = [];
const driverFor = (index: number, options: Partial<Parameters<typeof createIpmiDriver>[0]> = {}) => {
  const { host, port } = byIndex(index).ipmi;
  const driver = createIpmiDriver({ host, port, credentials, ...options });
  drivers.push(driver);
  return driver;
};

beforeAll(async () => {
  const faults = [{ answerSuite3: true }, { noPayloadInstanceInfo: true }, { noSdrRepository: true }, {}, {}];
  fleet = await startFleet({ count: faults.length, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, faultsFor: (index) => faults[index], timings: { postMs: 10, bootMs: 10, shutdownMs: 50, cycleMs: 50 } });
});
afterEach(async () => {
  await Promise.all(drivers.map((driver) => driver.close()));
  drivers = [];
});
afterAll(async () => {
  await fleet?.stop();
});

describe('cipher suite chosen by the BMC', () => {
  it('accepts suite 3 when the BMC answers a suite-17 Open Session with its algorithms, and says which suite it uses', async () => {
    const { host, port } = byIndex(SUITE3).ipmi;
    const session = await openIpmiSession({ host, port, ...credentials, suiteCache: new SuiteCache() });
    expect((session as RmcpPlusSessionView).suite?.id).toBe(3);
    await session.close();
    const driver = driverFor(SUITE3);
    expect(await driver.powerGet()).toEqual({ power: 'on' });
    expect(driver.negotiated).toEqual({ protocol: 'ipmi-v2.0', cipherSuite: 3 });
    // what the power poll reports as the server's bmc link (the API's bmc, the CLI's details, the tree's badge)
    expect(driver.linkStatus()).toEqual({ protocol: 'ipmi-v2.0', cipherSuite: 3 });
  });

  it('refuses the BMC\'s choice when it is not a suite the configuration allows', async () => {
    const { host, port } = byIndex(SUITE3).ipmi;
    const failure = await openIpmiSession({ host, port, ...credentials, cipherSuites: [17], suiteCache: new SuiteCache() }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LightsoutError);
    expect((failure as LightsoutError).code).toBe('BMC_UNSUPPORTED');
    expect((failure as LightsoutError).message).toMatch(/suite 3/);
  });
});

describe('SEL without an SDR repository', () => {
  it('reads the SEL and names sensors by type and number', async () => {
    const bmc = byIndex(NO_SDR).bmc;
    bmc.host.powerOff();
    const driver = driverFor(NO_SDR);
    await expect.poll(async () => (await driver.sel()).entries.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    const { entries } = await driver.sel();
    expect(entries.at(-1)).toMatchObject({ sensor: 'power unit #48', event: expect.stringMatching(/power off/i) });
  });

  it('names SEL sensors from the SDR when there is one', async () => {
    const bmc = byIndex(PLAIN).bmc;
    bmc.host.powerOff();
    const driver = driverFor(PLAIN);
    await expect.poll(async () => (await driver.sel()).entries.at(-1)?.sensor, { timeout: 5000 }).toBe('Power Unit');
  });
});

describe('SOL on a BMC without Get Payload Instance Info', () => {
  it('keeps SOL alive with another keepalive, and deactivates it when the last viewer leaves', async () => {
    const bmc = byIndex(NO_INSTANCE_INFO).bmc;
    const driver = driverFor(NO_INSTANCE_INFO, { sol: { timing: { keepaliveMs: 100 } } });
    const events: SolHubEvent[] = [];
    const chunks: Buffer[] = [];
    const viewer = await driver.sol().attach('viewer', { mode: 'control' }, { onData: (bytes) => chunks.push(Buffer.from(bytes)), onEvent: (event) => events.push(event) });
    // Ten keepalive periods later SOL still carries output.
    const started = Date.now();
    await expect.poll(() => Date.now() - started >= 1000, { timeout: 3000, interval: 100 }).toBe(true);
    bmc.host.writeConsole(Buffer.from('still here\r\n'));
    await expect.poll(() => Buffer.concat(chunks).includes('still here'), { timeout: 5000 }).toBe(true);
    expect(events.filter((event) => event.type === 'ended')).toEqual([]);
    viewer.detach();
    await expect.poll(() => solActive(bmc), { timeout: 5000 }).toBe(false);
  });

  it('answers "already active" with BMC_BUSY and takes over when asked, without knowing the owner', async () => {
    const bmc = byIndex(NO_INSTANCE_INFO).bmc;
    const holder = driverFor(NO_INSTANCE_INFO, { credentials: { username: 'operator', password: 'operpass' }, privilege: 'operator' });
    await holder.sol().attach('holder', { mode: 'control' }, { onData: () => undefined });
    const driver = driverFor(NO_INSTANCE_INFO);
    const refused = await driver.sol().attach('viewer', { mode: 'control' }, { onData: () => undefined }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LightsoutError);
    expect((refused as LightsoutError).code).toBe('BMC_BUSY');
    expect((refused as LightsoutError).hint).toMatch(/--takeover/);
    const viewer = await driver.sol().attach('viewer', { mode: 'control', takeover: true }, { onData: () => undefined });
    expect(viewer.tookOver).toBe(true);
    expect(solActive(bmc)).toBe(true);

    // Later the other user holds SOL again: a second takeover through the same hub is one too (each activation is told).
    viewer.detach();
    await expect.poll(() => solActive(bmc), { timeout: 5000 }).toBe(false);
    await holder.sol().attach('holder-again', { mode: 'control' }, { onData: () => undefined });
    const again = await driver.sol().attach('viewer-again', { mode: 'control', takeover: true }, { onData: () => undefined });
    expect(again.tookOver).toBe(true);
  });
});

describe('SOL held by the agent\'s own previous session', () => {
  it('a new driver (an agent restart) takes over at once the SOL its predecessor still holds', async () => {
    const bmc = byIndex(PLAIN_SOL).bmc;
    // The predecessor: SOL activated on a session that is never closed (the process died).
    const { host, port } = byIndex(PLAIN_SOL).ipmi;
    const orphan = (await openIpmiSession({ host, port, ...credentials, protocol: 'lanplus', suiteCache: new SuiteCache() })) as RmcpPlusSessionView;
    await SolSession.activate(orphan, { data: () => undefined, end: () => undefined });
    expect(solActive(bmc)).toBe(true);
    const driver = driverFor(PLAIN_SOL);
    const chunks: Buffer[] = [];
    const viewer = await driver.sol().attach('viewer', { mode: 'control' }, { onData: (bytes) => chunks.push(Buffer.from(bytes)) });
    expect(viewer.tookOver).toBe(true);
    bmc.host.writeConsole(Buffer.from('after restart\r\n'));
    await expect.poll(() => Buffer.concat(chunks).includes('after restart'), { timeout: 5000 }).toBe(true);
    orphan.fail(new LightsoutError('BMC_UNREACHABLE', 'the predecessor process is gone'));
  });
});

function solActive(bmc: FleetBmc['bmc']): boolean {
  return (bmc.ipmiService as IpmiLanServer).solActive;
}

describe('rejected credentials', () => {
  it('logs in once with a wrong password, then holds off (credentials rejected) until asked to retry', async () => {
    const server = byIndex(PLAIN).bmc.ipmiService as IpmiLanServer;
    const before = server.loginAttempts;
    const driver = driverFor(PLAIN, { credentials: { username: 'admin', password: 'wrong' } });
    for (let poll = 0; poll < 5; poll++) {
      const failure = await driver.powerGet().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LightsoutError);
      expect((failure as LightsoutError).code).toBe('BMC_AUTH_FAILED');
    }
    expect(server.loginAttempts - before).toBe(1);
    expect(driver.linkStatus()).toMatchObject({ credentials: 'rejected', retryAt: expect.any(String) });
    // SOL logs in through the same gate.
    await expect(driver.sol().attach('viewer', { mode: 'control' }, { onData: () => undefined })).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(server.loginAttempts - before).toBe(1);
    driver.retryCredentials();
    await expect(driver.powerGet()).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(server.loginAttempts - before).toBe(2);
  });
});
