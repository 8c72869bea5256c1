import { afterEach, describe, expect, it } from 'vitest';
import { type RedfishDriver, createRedfishDriver } from './index.js';
import { FixtureBmc, type FixtureOptions, type LoggedRequest, type ScriptedAnswer } from '../testing/redfish-fixture-bmc.js';

/**
 * Answers real BMCs give that the DMTF mockups do not: each test scripts one
 * vendor's answer on the fixture and asserts that the driver reports only
 * what it saw happen.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const system = '/redfish/v1/Systems/437XR1138R2';
const slot = '/redfish/v1/Managers/BMC/VirtualMedia/CD1';
const image = 'http://10.0.0.9:8080/media/abc.iso';

async function setup(options: FixtureOptions = {}, intercept?: (request: LoggedRequest) => ScriptedAnswer | undefined): Promise<{ bmc: FixtureBmc; driver: RedfishDriver }> {
  const bmc = new FixtureBmc(options);
  bmc.intercept = intercept;
  await bmc.start();
  cleanups.push(() => bmc.stop());
  const driver = createRedfishDriver({ serverId: 'web-01', url: bmc.url, credentials: { username: 'admin', password: 'secret' }, retries: 0, insertSettleMs: 600 });
  cleanups.push(() => driver.close());
  return { bmc, driver };
}

const resetTypes = (bmc: FixtureBmc) => bmc.requestsTo('POST', 'ComputerSystem.Reset').map((entry) => entry.body?.ResetType);

describe('power', () => {
  it('reads PoweringOff as on: the OS is still shutting down (bmcweb holds it through a graceful shutdown)', async () => {
    const { bmc, driver } = await setup();
    bmc.resource(system).PowerState = 'PoweringOff';
    expect(await driver.powerGet()).toEqual({ power: 'on' });
    bmc.resource(system).PowerState = 'Off';
    expect(await driver.powerGet()).toEqual({ power: 'off' });
  });

  it('cycles a BMC without PowerCycle (iLO 5/6) as ForceOff, the power seen off, then On — never as a warm ForceRestart', async () => {
    const { bmc, driver } = await setup({ resetValues: ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'Nmi', 'PushPowerButton', 'GracefulRestart'] });
    bmc.resource(system).PowerState = 'On';
    // "off" in the answer: the cycle's off phase, seen by the driver (the relay then waits for on alone)
    expect(await driver.powerSet('cycle')).toEqual({ power: 'off', via: 'ForceOff+On' });
    expect(resetTypes(bmc)).toEqual(['ForceOff', 'On']);
    expect(bmc.resource(system).PowerState).toBe('On');
    // a server that is off is powered on
    bmc.resource(system).PowerState = 'Off';
    expect(await driver.powerSet('cycle')).toEqual({ power: 'off', via: 'On' });
    expect(resetTypes(bmc)).toEqual(['ForceOff', 'On', 'On']);
  });

  it('refuses a cycle it cannot make of a power cycle or of ForceOff and On', async () => {
    const { bmc, driver } = await setup({ resetValues: ['On', 'GracefulShutdown', 'GracefulRestart'] });
    bmc.resource(system).PowerState = 'On';
    await expect(driver.powerSet('cycle')).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED' });
    expect(resetTypes(bmc)).toEqual([]);
  });

  it('presses the power button only when it moves the power towards the target (a press toggles)', async () => {
    const { bmc, driver } = await setup({ resetValues: ['PushPowerButton', 'GracefulRestart'] });
    bmc.resource(system).PowerState = 'On';
    expect(await driver.powerSet('on')).toEqual({ power: 'on', via: 'none (already there)' });
    expect(resetTypes(bmc)).toEqual([]);
    expect(await driver.powerSet('soft')).toMatchObject({ via: 'PushPowerButton' });
    expect(resetTypes(bmc)).toEqual(['PushPowerButton']);
    bmc.resource(system).PowerState = 'Off';
    expect(await driver.powerSet('off')).toEqual({ power: 'off', via: 'none (already there)' });
    delete bmc.resource(system).PowerState;
    await expect(driver.powerSet('on')).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED' });
    expect(resetTypes(bmc)).toEqual(['PushPowerButton']);
  });

  it('waits for a task the BMC accepted (202) and reports its failure (DSP0266 §12.2)', async () => {
    let polls = 0;
    const { bmc, driver } = await setup({}, (request) => {
      if (request.method === 'POST' && request.path.endsWith('ComputerSystem.Reset')) return { status: 202, headers: { Location: '/redfish/v1/TaskService/Tasks/7' } };
      if (request.path === '/redfish/v1/TaskService/Tasks/7') {
        polls += 1;
        return polls < 3
          ? { status: 200, body: { Id: '7', TaskState: 'Running' } }
          : { status: 200, body: { Id: '7', TaskState: 'Exception', TaskStatus: 'Critical', Messages: [{ MessageId: 'Base.1.8.GeneralError', Message: 'the host refused the reset' }] } };
      }
      return undefined;
    });
    await expect(driver.powerSet('on')).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR', message: expect.stringMatching(/ended Exception: the host refused the reset/) });
    expect(polls).toBe(3);
    expect(bmc.resource(system).PowerState).toBe('Off');
  });

  it('reports an action done once its task monitor answers with the result', async () => {
    let polls = 0;
    const { driver } = await setup({}, (request) => {
      if (request.method === 'POST' && request.path.endsWith('ComputerSystem.Reset')) return { status: 202, headers: { Location: '/redfish/v1/TaskMonitors/7' } };
      if (request.path === '/redfish/v1/TaskMonitors/7') return ++polls < 2 ? { status: 202, headers: { Location: '/redfish/v1/TaskMonitors/7' } } : { status: 204 };
      return undefined;
    });
    await expect(driver.powerSet('on')).resolves.toMatchObject({ via: 'On' });
    expect(polls).toBe(2);
  });

  it('never takes a redirect it did not follow for success', async () => {
    const { bmc, driver } = await setup({}, (request) =>
      request.method === 'POST' && request.path.endsWith('ComputerSystem.Reset') ? { status: 301, headers: { Location: '/redfish/v1/elsewhere' } } : undefined,
    );
    await expect(driver.powerSet('on')).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR', details: { status: 301 } });
    expect(bmc.requestsTo('POST', '/redfish/v1/elsewhere')).toHaveLength(0);
  });
});

describe('sessions', () => {
  it('keeps to sessions when the BMC has no slot free for now (iDRAC 503 RAC0218), instead of Basic for good', async () => {
    let refused = 0;
    const { bmc, driver } = await setup({}, (request) => {
      if (request.path === '/redfish/v1/SessionService/Sessions' && request.method === 'POST' && refused++ === 0) {
        return { status: 503, body: { error: { code: 'Base.1.12.GeneralError', '@Message.ExtendedInfo': [{ MessageId: 'IDRAC.2.8.RAC0218', Message: 'The maximum number of user sessions is reached.' }] } } };
      }
      return undefined;
    });
    await expect(driver.powerGet()).rejects.toMatchObject({ code: 'BMC_BUSY' });
    expect(driver.linkStatus().credentials).not.toBe('rejected');
    expect(await driver.powerGet()).toEqual({ power: 'off' });
    expect(bmc.requestsTo('POST', '/SessionService/Sessions')).toHaveLength(2);
    expect(bmc.requests.some((entry) => entry.headers.authorization !== undefined)).toBe(false);
  });

  it('falls back to Basic where the session login is broken (500 to a well-formed login)', async () => {
    const { bmc, driver } = await setup({}, (request) =>
      request.path === '/redfish/v1/SessionService/Sessions' && request.method === 'POST' ? { status: 500, body: { error: { code: 'Base.1.8.InternalError', message: 'internal error' } } } : undefined,
    );
    expect(await driver.powerGet()).toEqual({ power: 'off' });
    expect(bmc.requests.at(-1)!.headers.authorization).toMatch(/^Basic /);
  });
});

describe('boot override', () => {
  it('sends the strong form of a weak ETag the BMC refuses (412), then none (Lenovo XCC, sushy)', async () => {
    const sent: (string | undefined)[] = [];
    const { driver } = await setup({}, (request) => {
      if (request.method !== 'PATCH' || request.path !== system) return undefined;
      const ifMatch = request.headers['if-match'] as string | undefined;
      sent.push(ifMatch);
      if (ifMatch?.startsWith('W/')) return { status: 412, body: { error: { code: 'Base.1.8.PreconditionFailed', message: 'ETag supplied did not match' } } };
      // This BMC takes the strong form: the fixture checks the ETag it issued, which is weak.
      request.headers['if-match'] = `W/${ifMatch ?? ''}`;
      return undefined;
    });
    expect(await driver.bootSet({ device: 'pxe', persistent: false })).toEqual({ device: 'pxe', persistent: false, uefi: true });
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^W\/"\d+"$/);
    expect(sent[1]).toBe(sent[0]!.slice(2));
  });

  it('gives up with a typed error when no form of the ETag is taken', async () => {
    const sent: (string | undefined)[] = [];
    const { driver } = await setup({}, (request) => {
      if (request.method !== 'PATCH' || request.path !== system) return undefined;
      sent.push(request.headers['if-match'] as string | undefined);
      return { status: 412, body: { error: { code: 'Base.1.8.PreconditionFailed', message: 'ETag supplied did not match' } } };
    });
    await expect(driver.bootSet({ device: 'pxe', persistent: false })).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR' });
    expect(sent).toEqual([expect.stringMatching(/^W\//), expect.stringMatching(/^"/), undefined]);
  });
});

describe('virtual media', () => {
  it('reports an eject only once the slot reads back empty', async () => {
    const { bmc, driver } = await setup({}, (request) => (request.method === 'POST' && request.path.endsWith('VirtualMedia.EjectMedia') ? { status: 204 } : undefined));
    await driver.mediaInsert(image);
    await expect(driver.mediaEject()).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR', message: expect.stringMatching(/still reports the image inserted/) });
    expect(bmc.resource(slot).Inserted).toBe(true);
    bmc.intercept = undefined;
    expect(await driver.mediaEject()).toMatchObject({ inserted: true, image });
    expect(await driver.mediaGet()).toMatchObject({ inserted: false, image: null });
  });

  it('mounts into an EXT slot of a Lenovo XCC, not the RDOC slot listed first', async () => {
    const { bmc, driver } = await setup({ insert: 'patch-only' });
    const collection = '/redfish/v1/Managers/BMC/VirtualMedia';
    const members = ['RDOC1', 'RDOC2', 'EXT1', 'Remote1'].map((id) => `${collection}/${id}`);
    bmc.resources.set(collection, { '@odata.id': collection, Members: members.map((path) => ({ '@odata.id': path })) });
    for (const path of members) {
      const id = path.split('/').pop()!;
      bmc.resources.set(path, { '@odata.id': path, Id: id, MediaTypes: ['CD', 'DVD'], Inserted: false, Image: null, ConnectedVia: 'NotConnected' });
    }
    await driver.mediaInsert(image);
    expect(bmc.requestsTo('PATCH', '/VirtualMedia/').map((entry) => entry.path)).toEqual([`${collection}/EXT1`]);
  });

  it('climbs the InsertMedia ladder on a GeneralError whose message names TransferProtocolType (iDRAC)', async () => {
    const { bmc, driver } = await setup({ insert: 'needs-transfer-protocol' }, (request) =>
      request.method === 'POST' && request.path.endsWith('VirtualMedia.InsertMedia') && request.body?.TransferProtocolType === undefined
        ? {
            status: 400,
            body: { error: { code: 'Base.1.12.GeneralError', message: 'A general error has occurred.', '@Message.ExtendedInfo': [{ MessageId: 'IDRAC.2.8.RAC0720', Message: 'Missing the required parameter TransferProtocolType.' }] } },
          }
        : undefined,
    );
    const { quirks } = await driver.mediaInsert(image);
    expect(quirks).toContain('transfer-protocol-type');
    expect(bmc.resource(slot).Image).toBe(image);
  });
});
