import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bmc, bmcConfig } from '@lightsout/bmcsim';
import { createRedfishDriver, type RedfishDriver } from '@lightsout/agent/redfish';

/**
 * The server page's identity block over Redfish: the agent's driver reads
 * the ComputerSystem (Manufacturer, Model, SerialNumber, BiosVersion) and its
 * Manager (FirmwareVersion) from bmcsim's Redfish service, which serves
 * them as a BMC does (bmcsim/src/redfish/documents.ts).
 */
let bmc: Bmc;
let driver: RedfishDriver;
beforeAll(async () => {
  bmc = new Bmc(bmcConfig('rf-07', { seed: 7, timings: { postMs: 10, bootMs: 10, shutdownMs: 10, cycleMs: 10 } }));
  const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: undefined });
  driver = createRedfishDriver({ serverId: 'rf-07', url: endpoints.redfishUrl, credentials: { username: 'admin', password: 'adminpass' }, retries: 0 });
});
afterAll(async () => {
  await driver?.close();
  await bmc?.stop();
});

describe('Redfish identity against bmcsim', () => {
  it('reports vendor, model, serial, BMC firmware and BIOS version as the BMC serves them', async () => {
    expect(await driver.identity()).toEqual({
      source: 'redfish',
      vendor: 'Lightsout',
      model: 'bmcsim virtual server',
      serialNumber: 'SIM000007',
      bmcFirmware: 'bmcsim-1.0',
      biosVersion: '2.4.1',
    });
  });
});
