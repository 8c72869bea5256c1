import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { LightsoutError } from '@lightsout/shared';
import { RedfishClient, RedfishDriver, createRedfishDriver } from './index.js';
import { FixtureBmc, type FixtureOptions } from '../testing/redfish-fixture-bmc.js';

const credentials = { username: 'admin', password: 'secret' };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: FixtureOptions = {}, driverOptions: Partial<Parameters<typeof createRedfishDriver>[0]> = {}): Promise<{ bmc: FixtureBmc; driver: RedfishDriver }> {
  const bmc = new FixtureBmc(options);
  await bmc.start();
  cleanups.push(() => bmc.stop());
  const driver = createRedfishDriver({ serverId: 'web-01', url: bmc.url, credentials, retries: 0, insertSettleMs: 2000, ...driverOptions });
  cleanups.push(() => driver.close());
  return { bmc, driver };
}

describe('Redfish driver against a DMTF-shaped service', () => {
  it('logs in with a session, never sends X-Requested-With, logs out on close', async () => {
    const { bmc, driver } = await setup();
    await driver.powerGet();
    const sessionPosts = bmc.requestsTo('POST', '/SessionService/Sessions');
    expect(sessionPosts).toHaveLength(1);
    expect(bmc.requests.every((entry) => entry.headers['x-requested-with'] === undefined)).toBe(true);
    const authenticated = bmc.requests.filter((entry) => entry.path !== '/redfish/v1/' && entry.method === 'GET');
    expect(authenticated.every((entry) => typeof entry.headers['x-auth-token'] === 'string' && entry.headers.authorization === undefined)).toBe(true);
    await driver.close();
    expect(bmc.deletedSessions).toEqual(['/redfish/v1/SessionService/Sessions/1']);
    expect(bmc.tokens.size).toBe(0);
  });

  it('logs out of a session the BMC created while the driver was closing', async () => {
    const { bmc, driver } = await setup();
    let answer!: () => void;
    bmc.holdLogins = new Promise((resolve) => (answer = resolve));
    const status = driver.powerGet().catch((error: unknown) => error);
    await expect.poll(() => bmc.requestsTo('POST', '/SessionService/Sessions').length, { timeout: 10_000 }).toBe(1);
    const closed = driver.close();
    answer();
    await closed;
    expect(await status).toBeInstanceOf(LightsoutError);
    expect(bmc.deletedSessions).toEqual(['/redfish/v1/SessionService/Sessions/1']);
    expect(bmc.tokens.size).toBe(0);
  });

  it.each([
    ['no Location (the session is its @odata.id)', 'none'],
    ['a Location relative to the service root', 'relative'],
  ] as const)('logs out of a session whose login answer has %s', async (_label, sessionLocation) => {
    const { bmc, driver } = await setup({ sessionLocation });
    await driver.powerGet();
    await driver.close();
    expect(bmc.requestsTo('DELETE', '/Sessions/').map((entry) => entry.path)).toEqual(['/redfish/v1/SessionService/Sessions/1']);
    expect(bmc.deletedSessions).toEqual(['/redfish/v1/SessionService/Sessions/1']);
    expect(bmc.tokens.size).toBe(0);
  });

  it('logs out of the session a re-login created, and of one created while closing, without a Location', async () => {
    const { bmc, driver } = await setup({ sessionLocation: 'none' });
    await driver.powerGet();
    bmc.expireSessions();
    await driver.powerGet(); // 401: logs in again (session 2)
    await driver.close();
    expect(bmc.deletedSessions).toEqual(['/redfish/v1/SessionService/Sessions/2']);
    expect(bmc.tokens.size).toBe(0);

    const closing = await setup({ sessionLocation: 'none' });
    let answer!: () => void;
    closing.bmc.holdLogins = new Promise((resolve) => (answer = resolve));
    const status = closing.driver.powerGet().catch((error: unknown) => error);
    await expect.poll(() => closing.bmc.requestsTo('POST', '/SessionService/Sessions').length, { timeout: 10_000 }).toBe(1);
    const closed = closing.driver.close();
    answer();
    await closed;
    expect(await status).toBeInstanceOf(LightsoutError);
    expect(closing.bmc.deletedSessions).toEqual(['/redfish/v1/SessionService/Sessions/1']);
    expect(closing.bmc.tokens.size).toBe(0);
  });

  it('logs in again once when the BMC drops the session mid-way (401)', async () => {
    const { bmc, driver } = await setup();
    expect(await driver.powerGet()).toEqual({ power: 'off' });
    bmc.expireSessions();
    expect(await driver.powerSet('on')).toEqual({ power: 'on', via: 'On' });
    expect(bmc.requestsTo('POST', '/SessionService/Sessions')).toHaveLength(2);
    expect(bmc.requestsTo('POST', 'ComputerSystem.Reset')).toHaveLength(1);
  });

  it('refuses wrong credentials with BMC_AUTH_FAILED', async () => {
    const { driver } = await setup({}, { credentials: { username: 'admin', password: 'wrong' } });
    await expect(driver.powerGet()).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
  });

  it('falls back to Basic auth when there is no SessionService', async () => {
    const { bmc, driver } = await setup({ sessionService: false });
    expect(await driver.powerGet()).toEqual({ power: 'off' });
    const last = bmc.requests.at(-1)!;
    expect(last.headers.authorization).toBe(`Basic ${Buffer.from('admin:secret').toString('base64')}`);
    expect(bmc.requestsTo('POST', '/SessionService')).toHaveLength(0);
  });

  it.each([
    ['ActionInfo', false],
    ['inline AllowableValues', true],
  ])('chooses the closest allowable ResetType (%s)', async (_label, inlineResetValues) => {
    const { bmc, driver } = await setup({ inlineResetValues, resetValues: ['On', 'GracefulShutdown', 'GracefulRestart'] });
    await driver.powerSet('off');
    await driver.powerSet('reset');
    const resetTypes = bmc.requestsTo('POST', 'ComputerSystem.Reset').map((entry) => entry.body?.ResetType);
    expect(resetTypes).toEqual(['GracefulShutdown', 'GracefulRestart']);
    // A warm restart is not a power cycle: without PowerCycle, or ForceOff and On, a cycle is refused (vendor-answers.test.ts)
    await expect(driver.powerSet('cycle')).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED' });
    expect(bmc.requestsTo('POST', 'ComputerSystem.Reset')).toHaveLength(2);
  });

  it('sets boot-once to CD with If-Match, and to UsbCd where Cd is not allowed', async () => {
    const { bmc, driver } = await setup();
    expect(await driver.bootSet({ device: 'cd', persistent: false, uefi: true })).toEqual({ device: 'cd', persistent: false, uefi: true });
    const patch = bmc.requestsTo('PATCH', '/Systems/').at(-1)!;
    expect(patch.headers['if-match']).toMatch(/^W\/"\d+"$/);
    expect(patch.body).toEqual({ Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI' } });

    const supermicro = await setup({ bootTargets: ['None', 'Pxe', 'Hdd', 'UsbCd', 'BiosSetup'] });
    await supermicro.driver.bootSet({ device: 'cd', persistent: true, uefi: false });
    expect(supermicro.bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toEqual({
      Boot: { BootSourceOverrideTarget: 'UsbCd', BootSourceOverrideEnabled: 'Continuous', BootSourceOverrideMode: 'Legacy' },
    });
    expect(await supermicro.driver.bootGet()).toEqual({ device: 'cd', persistent: true, uefi: false });
  });

  it('boots the virtual CD as UsbCd where the BMC lists it (Supermicro: Cd is the physical drive)', async () => {
    const both = await setup({ bootTargets: ['None', 'Pxe', 'Hdd', 'Cd', 'UsbCd'] });
    await both.driver.mediaBootOnce();
    expect(both.bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toEqual({ Boot: { BootSourceOverrideTarget: 'UsbCd', BootSourceOverrideEnabled: 'Once' } });
    await both.driver.bootSet({ device: 'cd', persistent: false, uefi: true }); // a plain "boot cd" means the physical drive
    expect(both.bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toMatchObject({ Boot: { BootSourceOverrideTarget: 'Cd' } });
    const cdOnly = await setup();
    await cdOnly.driver.mediaBootOnce();
    expect(cdOnly.bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toMatchObject({ Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Once' } });
  });

  it('never changes the boot mode unless asked: pxe without a mode keeps UEFI, --legacy switches', async () => {
    const { bmc, driver } = await setup();
    expect(await driver.bootSet({ device: 'pxe', persistent: false })).toEqual({ device: 'pxe', persistent: false, uefi: true });
    expect(bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toEqual({ Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } });
    expect(await driver.bootSet({ device: 'pxe', persistent: false, uefi: false })).toEqual({ device: 'pxe', persistent: false, uefi: false });
    expect(bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toMatchObject({ Boot: { BootSourceOverrideMode: 'Legacy' } });
    await driver.mediaBootOnce();
    expect(bmc.requestsTo('PATCH', '/Systems/').at(-1)!.body).toEqual({ Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Once' } });
  });

  it('reads the override back and warns when the BMC kept "Once" as persistent', async () => {
    const { driver } = await setup({ ignoresOnce: true });
    const result = await driver.bootSet({ device: 'pxe', persistent: false });
    expect(result).toMatchObject({ device: 'pxe', persistent: true });
    expect(result.warning).toMatch(/persistent instead of for the next boot only/);
    expect((await driver.mediaBootOnce()).warning).toMatch(/persistent/);
    const honest = await setup();
    expect((await honest.driver.bootSet({ device: 'pxe', persistent: false })).warning).toBeUndefined();
  });

  it.each([
    ['its Name', 'WebFrontEnd483'],
    ['a name the BMC serves by redirect', 'lab-node-1'],
    ['its member URL', '/redfish/v1/Systems/437XR1138R2'],
    ['its Id', '437XR1138R2'],
  ])('finds the configured system by %s', async (_label, systemId) => {
    const { bmc, driver } = await setup({ systemAlias: 'lab-node-1' }, { systemId });
    expect(await driver.powerGet()).toEqual({ power: 'off' });
    await driver.powerSet('on');
    expect(bmc.requestsTo('POST', '/Systems/437XR1138R2/Actions/ComputerSystem.Reset')).toHaveLength(1);
  });

  it('names what it matched against when the configured system is not there', async () => {
    const { driver } = await setup({}, { systemId: 'lab-node-9' });
    await expect(driver.powerGet()).rejects.toMatchObject({ code: 'NOT_FOUND', hint: expect.stringMatching(/systemId/), details: { systems: ['/redfish/v1/Systems/437XR1138R2'] } });
  });

  it('reads sensors from Thermal/Power and from the Sensors collection', async () => {
    const { driver } = await setup();
    expect((await driver.sensors()).sensors).toEqual([
      { name: 'CPU1 Temp', type: 'temperature', value: 41, unit: 'Cel', status: 'ok' },
      { name: 'Fan 1', type: 'fan', value: 4200, unit: 'RPM', status: 'warning' },
      { name: '12V', type: 'voltage', value: 12.1, unit: 'V', status: 'ok' },
      { name: 'System Power', type: 'power', value: 230, unit: 'W', status: 'unknown' },
    ]);
    const modern = await setup({ sensors: 'sensors-collection' });
    expect((await modern.driver.sensors()).sensors).toEqual([
      { name: 'Inlet Temp', type: 'temperature', value: 22.5, unit: 'Cel', status: 'ok' },
      // no ReadingType: typed by their ReadingUnits, not "other"
      { name: 'Fan 0', type: 'fan', value: 5100, unit: 'RPM', status: 'ok' },
      { name: 'P12V', type: 'voltage', value: 12.05, unit: 'V', status: 'ok' },
    ]);
  });

  it('lists and clears the event log', async () => {
    const { driver } = await setup();
    expect((await driver.sel()).entries).toEqual([
      { id: 1, time: '2026-11-20T10:00:00Z', sensor: 'Temperature', event: 'CPU1 temperature high', direction: 'asserted', raw: '' },
      { id: 2, time: null, sensor: 'Temperature', event: 'CPU1 temperature normal', direction: 'deasserted', raw: '' },
    ]);
    await driver.selClear();
    expect((await driver.sel()).entries).toEqual([]);
  });

  it.each(['managers', 'systems'] as const)('finds the CD slot under %s and inserts/ejects', async (virtualMediaUnder) => {
    const { bmc, driver } = await setup({ virtualMediaUnder });
    const { slot, quirks } = await driver.mediaInsert('http://10.0.0.9:8080/media/abc.iso');
    expect(quirks).toEqual([]);
    expect(slot).toMatchObject({ inserted: true, image: 'http://10.0.0.9:8080/media/abc.iso', connectedVia: 'URI' });
    expect(slot.slotPath).toMatch(virtualMediaUnder === 'systems' ? /\/Systems\/.*\/VirtualMedia\/CD1$/ : /\/Managers\/.*\/VirtualMedia\/CD1$/);
    expect(bmc.requestsTo('POST', 'InsertMedia')[0]!.body).toEqual({ Image: 'http://10.0.0.9:8080/media/abc.iso', Inserted: true, WriteProtected: true });
    await driver.mediaEject();
    expect(await driver.mediaGet()).toMatchObject({ inserted: false, image: null });
  });

  it('turns malformed JSON from the BMC into BMC_PROTOCOL_ERROR and keeps working', async () => {
    const { bmc, driver } = await setup();
    bmc.malformed.add('/redfish/v1/Systems');
    const failure = await driver.powerGet().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LightsoutError);
    expect(failure).toMatchObject({ code: 'BMC_PROTOCOL_ERROR' });
    bmc.malformed.clear();
    expect(await driver.powerGet()).toEqual({ power: 'off' });
  });

  it('reports an unreachable BMC as BMC_UNREACHABLE', async () => {
    const { bmc, driver } = await setup();
    await bmc.stop();
    await expect(driver.powerGet()).rejects.toMatchObject({ code: 'BMC_UNREACHABLE' });
  });
});

describe('request deadlines', () => {
  it("waits for a synchronous InsertMedia past the dispatcher's headers timeout, while a normal request keeps its own deadline (BMC_TIMEOUT)", async () => {
    const bmc = new FixtureBmc();
    await bmc.start();
    cleanups.push(() => bmc.stop());
    // Scaled down: undici's 300 s header and body timeouts to 100 ms, the client's 15 s per request to 2 s. undici
    // checks its header and body timers on a 0.5 s tick, so its 100 ms fires within about 1 s: well before 2 s.
    const dispatcher = new Agent({ headersTimeout: 100, bodyTimeout: 100 });
    const client = new RedfishClient({ baseUrl: bmc.url, credentials, dispatcher, timeoutMs: 2000, retries: 0 });
    const driver = new RedfishDriver({ client, dispatcher, bmcHost: '127.0.0.1', insertSettleMs: 2000 });
    cleanups.push(() => driver.close());
    await driver.mediaGet(); // logged in, topology known
    const slot = '/redfish/v1/Managers/BMC/VirtualMedia/CD1';

    // The BMC answers InsertMedia only once the image is attached, and meanwhile answers nothing on the slot either.
    let attach!: () => void;
    const attached = new Promise<void>((resolve) => (attach = resolve));
    bmc.holdAnswer = (request) =>
      request.path.endsWith('VirtualMedia.InsertMedia') || (request.method === 'GET' && request.path === slot && bmc.requestsTo('POST', 'InsertMedia').length > 0) ? attached : undefined;
    const inserting = driver.mediaInsert('http://10.0.0.9:8080/media/abc.iso').catch((error: unknown) => error);
    await expect.poll(() => bmc.requestsTo('POST', 'InsertMedia').length, { timeout: 10_000 }).toBe(1);
    // sent after InsertMedia and held as long: by the time it fails, InsertMedia has waited longer than the dispatcher's headers timeout
    await expect(driver.mediaGet()).rejects.toMatchObject({ code: 'BMC_TIMEOUT', message: expect.stringMatching(/^GET \S+\/CD1: no answer within 2 s/) });
    bmc.holdAnswer = undefined;
    attach();
    expect(await inserting).toMatchObject({ quirks: [], slot: { inserted: true, image: 'http://10.0.0.9:8080/media/abc.iso' } });
    expect(bmc.requestsTo('POST', 'InsertMedia')).toHaveLength(1);
  });
});

describe('identity', () => {
  it('reports only what the BMC has: missing, null and blank properties are not reported', async () => {
    const { bmc, driver } = await setup();
    // the DMTF-shaped fixture has none of the identity properties
    expect(await driver.identity()).toEqual({ source: 'redfish' });
    Object.assign(bmc.resource('/redfish/v1/Systems/437XR1138R2'), { Manufacturer: ' Contoso ', Model: null, SerialNumber: '   ', BiosVersion: 'P79 v1.45' });
    Object.assign(bmc.resource('/redfish/v1/Managers/BMC'), { FirmwareVersion: '1.00.0' });
    expect(await driver.identity()).toEqual({ source: 'redfish', vendor: 'Contoso', biosVersion: 'P79 v1.45', bmcFirmware: '1.00.0' });
  });
});

describe('trust directory', () => {
  it('needs no trust directory for plain http', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'redfish-trust-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const { driver } = await setup({}, { trustDirectory: directory });
    expect(await driver.powerGet()).toEqual({ power: 'off' });
  });
});
