import { startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import { LightsoutError } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpmiDriver, type IpmiDriver } from './driver.js';
import { openIpmiSession } from './session/connect.js';
import { RmcpPlusSession } from './session/rmcp-plus-session.js';
import { SuiteCache } from './session/suite-cache.js';
import { V15Session } from './session/v15-session.js';

// Against OpenIPMI's ipmi_sim (the real third-party BMC): RMCP+ suite 3 and IPMI v1.5.
let lab: IpmiSimLab;
beforeAll(async () => {
  lab = await startIpmiSim();
});
afterAll(async () => {
  await lab?.stop();
});

const credentials = { username: 'admin', password: 'adminpass' };

/** ipmi_sim notices its host process exiting a moment after the process does: poll its answer, bounded. */
async function expectPower(driver: IpmiDriver, power: 'on' | 'off'): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if ((await driver.powerGet()).power === power) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect((await driver.powerGet()).power).toBe(power);
}

describe.each([
  ['lanplus', 'RMCP+ (suite 17 refused, falls back to 3)'],
  ['lan', 'IPMI v1.5 MD5'],
] as const)('IpmiDriver over %s (%s) against ipmi_sim', (protocol, _description) => {
  let driver: IpmiDriver;
  beforeAll(() => {
    driver = createIpmiDriver({ host: lab.host, port: lab.port, credentials, protocol });
  });
  afterAll(async () => {
    await driver?.close();
  });

  it('powers off, on and cycles, observed by the host process', async () => {
    expect(await driver.powerGet()).toEqual({ power: lab.uart.power });
    await driver.powerSet('off');
    await lab.uart.waitForPower('off');
    await expectPower(driver, 'off');
    await driver.powerSet('on');
    await lab.uart.waitForPower('on');
    await expectPower(driver, 'on');
    const bootBefore = lab.uart.bootCount;
    await driver.powerSet('cycle');
    await lab.uart.waitForPower('off');
    await lab.uart.waitForPower('on');
    expect(lab.uart.bootCount).toBe(bootBefore + 1);
    await expectPower(driver, 'on');
  });

  it('reads back the boot override it sets', async () => {
    expect(await driver.bootSet({ device: 'pxe', persistent: false, uefi: true })).toEqual({ device: 'pxe', persistent: false, uefi: true });
    expect(await driver.bootSet({ device: 'bios', persistent: true, uefi: false })).toEqual({ device: 'bios', persistent: true, uefi: false });
    expect(await driver.bootGet()).toEqual({ device: 'bios', persistent: true, uefi: false });
    // no mode asked: the BIOS boot type bit the BMC has is kept, in both directions
    expect(await driver.bootSet({ device: 'pxe', persistent: false })).toEqual({ device: 'pxe', persistent: false, uefi: false });
    await driver.bootSet({ device: 'disk', persistent: true, uefi: true });
    expect(await driver.bootSet({ device: 'pxe', persistent: false })).toEqual({ device: 'pxe', persistent: false, uefi: true });
  });

  it('lists sensors with converted readings', async () => {
    const { sensors } = await driver.sensors();
    expect(sensors).toContainEqual({ name: 'Board Temp', type: 'temperature', value: 96, unit: 'degrees C', status: 'ok' });
    // ipmitool prints this 6-bit-ASCII name as garbage; we decode it (§43.15).
    expect(sensors.map((sensor) => sensor.name)).toContain('DIMM A1');
  });

  it('reads identity as ipmi_sim is configured (lab.emu mc_add: manufacturer 0x00b7a1, product 0x0042, firmware 2 / 0x05; mc_add_fru_data)', async () => {
    // 0xb7a1 = 47009 is no vendor in our table: the vendor is the FRU product area's manufacturer; no BIOS version (0xC1).
    expect(await driver.identity()).toEqual({ source: 'ipmi', vendor: 'Lightsout', manufacturerId: 0xb7a1, model: 'Lab Server 1000 (LS-1000)', productId: 0x0042, serialNumber: 'PSN-0042', bmcFirmware: '2.05' });
  });

  it('lists the SEL with decoded event text and the SDR sensor name', async () => {
    const { entries } = await driver.sel();
    expect(entries[0]).toMatchObject({ id: expect.any(Number), sensor: 'Board Temp', event: 'Upper Non-critical going high', direction: 'asserted' });
    expect(entries[0]!.raw).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('sessions against ipmi_sim', () => {
  it('falls back from suite 17 to 3 and remembers it per BMC', async () => {
    const suiteCache = new SuiteCache();
    const session = await openIpmiSession({ host: lab.host, port: lab.port, ...credentials, suiteCache });
    expect(session).toBeInstanceOf(RmcpPlusSession);
    expect((session as RmcpPlusSession).suite?.id).toBe(3);
    expect(suiteCache.get(`${lab.host}:${lab.port}`)).toBe(3);
    await session.close();
    expect(session.state).toBe('closed');
  });

  it('opens a v1.5 session with MD5 and closes it', async () => {
    const session = await openIpmiSession({ host: lab.host, port: lab.port, ...credentials, protocol: 'lan' });
    expect(session).toBeInstanceOf(V15Session);
    expect((session as V15Session).authType).toBe('md5');
    await session.close();
  });

  it('refuses a wrong password with BMC_AUTH_FAILED over both protocols', async () => {
    for (const protocol of ['lanplus', 'lan'] as const) {
      const failure = await openIpmiSession({ host: lab.host, port: lab.port, username: 'admin', password: 'wrong', protocol, timing: { handshakeTimeoutMs: 300, handshakeAttempts: 1 } }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LightsoutError);
      expect((failure as LightsoutError).code).toBe('BMC_AUTH_FAILED');
    }
  });

  it('times out against a port where no BMC answers, with a typed error', async () => {
    const failure = await openIpmiSession({ host: '127.0.0.1', port: 9, ...credentials, timing: { handshakeTimeoutMs: 50, handshakeAttempts: 2 } }).catch((error: unknown) => error);
    expect((failure as LightsoutError).code).toBe('BMC_TIMEOUT');
  });

  it('v1.5 enforces the user privilege limit (ipmi_sim does not over RMCP+, lab quirk 5)', async () => {
    const failure = await openIpmiSession({ host: lab.host, port: lab.port, username: 'viewer', password: 'viewpass', protocol: 'lan', privilege: 'administrator', timing: { handshakeAttempts: 1 } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LightsoutError);
  });
});
