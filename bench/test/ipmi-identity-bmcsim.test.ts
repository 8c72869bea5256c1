import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '@lightsout/bmcsim';
import { createIpmiDriver, type IpmiDriver } from '@lightsout/agent/ipmi';

/**
 * The server page's identity block over IPMI against bmcsim: Get Device ID, FRU device 0 and Get System Info
 * Parameters give the same vendor, model, serial and BIOS version bmcsim's Redfish service reports
 * (bench/test/redfish-identity-bmcsim.test.ts); a BMC without FRU (`noFru`) still has an identity from Get
 * Device ID. ipmitool reads the same FRU in bmcsim/src/ipmi/ipmitool.test.ts.
 */
let fleet: Fleet;
const drivers: IpmiDriver[] = [];
const driverFor = (index: number): IpmiDriver => {
  const { host, port } = fleet.bmcs[index]!.ipmi;
  const driver = createIpmiDriver({ host, port, credentials: { username: 'admin', password: 'adminpass' } });
  drivers.push(driver);
  return driver;
};

beforeAll(async () => {
  const faults = [{}, { noFru: true }];
  fleet = await startFleet({ count: faults.length, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, faultsFor: (index) => faults[index], timings: { postMs: 10, bootMs: 10, shutdownMs: 50, cycleMs: 50 } });
});
afterAll(async () => {
  await Promise.all(drivers.map((driver) => driver.close()));
  await fleet?.stop();
});

describe('IPMI identity against bmcsim', () => {
  it('reports vendor, model and serial from the FRU and the BIOS version from the system info parameters', async () => {
    // The simulator's manufacturer number is RFC 5612's example enterprise 32473, the product 0x5349.
    expect(await driverFor(0).identity()).toEqual({
      source: 'ipmi', vendor: 'Lightsout', manufacturerId: 32473, model: 'bmcsim virtual server', productId: 0x5349, serialNumber: 'SIM000001', bmcFirmware: '1.00', biosVersion: '2.4.1',
    });
  });

  it('answers from Get Device ID (and system info) when the BMC has no FRU', async () => {
    expect(await driverFor(1).identity()).toEqual({ source: 'ipmi', manufacturerId: 32473, productId: 0x5349, bmcFirmware: '1.00', biosVersion: '2.4.1' });
  });
});
