import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import type { FruInfo } from '@lightsout/bmc-wire/ipmi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpmiDriver } from './driver.js';
import { readFru } from './fru.js';
import { openIpmiSession } from './session/connect.js';

// Our FRU reading against the FRU data lab.emu gives OpenIPMI's ipmi_sim, checked field by field against what two
// independent readers print for the same BMC: ipmitool `fru print 0` and FreeIPMI `ipmi-fru`. The expected values
// come from their output, never from our encoder.
const run = promisify(execFile);
const credentials = { username: 'admin', password: 'adminpass' };

let lab: IpmiSimLab;
let ours: FruInfo;
beforeAll(async () => {
  lab = await startIpmiSim({ powered: false });
  const session = await openIpmiSession({ host: lab.host, port: lab.port, ...credentials });
  try {
    const { info, failures } = await readFru(session);
    expect(failures).toEqual([]);
    ours = info;
  } finally {
    await session.close();
  }
});
afterAll(async () => {
  await lab?.stop();
});

/** "Key : value" lines of a tool's output; a key printed more than once (custom fields) keeps every value. */
function fields(output: string, separator: RegExp): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const match = separator.exec(line);
    if (!match) continue;
    const [, key, value] = match;
    map.set(key!.trim(), [...(map.get(key!.trim()) ?? []), value!.trim()]);
  }
  return map;
}

const one = (map: Map<string, string[]>, key: string): string | undefined => {
  const values = map.get(key);
  expect(values, `"${key}" printed ${values?.length ?? 0} times`).toHaveLength(1);
  return values![0];
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

describe('FRU device 0 of ipmi_sim, read by us and by third-party readers', () => {
  it('equals what ipmitool fru print 0 shows, field by field', async () => {
    const { stdout } = await run('ipmitool', ['-I', 'lanplus', '-H', lab.host, '-p', String(lab.port), '-U', credentials.username, '-P', credentials.password, '-C', '3', 'fru', 'print', '0'], { timeout: 20_000, env: { ...process.env, TZ: 'UTC' } });
    const printed = fields(stdout, /^\s*([^:]+?)\s+:\s(.*)$/);
    expect(printed.size, stdout).toBeGreaterThan(10);
    // SMBIOS chassis type 0x17 is the one ipmitool names "Rack Mount Chassis"
    expect([ours.chassis?.type, one(printed, 'Chassis Type')]).toEqual([0x17, 'Rack Mount Chassis']);
    expect(ours.chassis?.partNumber).toBe(one(printed, 'Chassis Part Number'));
    expect(ours.chassis?.serialNumber).toBe(one(printed, 'Chassis Serial'));
    expect(ours.chassis?.custom).toEqual(printed.get('Chassis Extra'));
    // ipmitool prints the date as C's asctime in UTC: "Fri Mar 14 09:26:00 2025 UTC"
    const date = /^\w{3} (\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4})/.exec(one(printed, 'Board Mfg Date')!)!;
    expect(ours.board?.manufactured).toBe(new Date(Date.UTC(Number(date[6]), MONTHS.indexOf(date[1]!), Number(date[2]), Number(date[3]), Number(date[4]), Number(date[5]))).toISOString());
    expect(ours.board?.manufacturer).toBe(one(printed, 'Board Mfg'));
    expect(ours.board?.productName).toBe(one(printed, 'Board Product'));
    expect(ours.board?.serialNumber).toBe(one(printed, 'Board Serial')); // 6-bit packed ASCII
    expect(ours.board?.partNumber).toBe(one(printed, 'Board Part Number')); // BCD plus
    expect(ours.board?.custom).toEqual(printed.get('Board Extra'));
    expect(ours.product?.manufacturer).toBe(one(printed, 'Product Manufacturer'));
    expect(ours.product?.productName).toBe(one(printed, 'Product Name'));
    expect(ours.product?.partNumber).toBe(one(printed, 'Product Part Number'));
    expect(ours.product?.version).toBe(one(printed, 'Product Version'));
    expect(ours.product?.serialNumber).toBe(one(printed, 'Product Serial'));
    expect(ours.product?.assetTag).toBe(one(printed, 'Product Asset Tag'));
  });

  it('equals what FreeIPMI ipmi-fru shows, field by field', async () => {
    // FreeIPMI's RMCP+ login cannot get a privilege level from ipmi_sim; its IPMI v1.5 driver can.
    const { stdout } = await run('ipmi-fru', ['-h', `${lab.host}:${lab.port}`, '-u', credentials.username, '-p', credentials.password, '-D', 'LAN', '-l', 'ADMIN', '--device-id=0', '--session-timeout=5000', '--retransmission-timeout=500'], { timeout: 20_000, env: { ...process.env, TZ: 'UTC' } });
    const printed = fields(stdout, /^\s*FRU ([^:]+):\s(.*)$/);
    expect(printed.size, stdout).toBeGreaterThan(10);
    expect(one(printed, 'Chassis Type')).toBe('Rack Mount Chassis');
    expect(ours.chassis?.partNumber).toBe(one(printed, 'Chassis Part Number'));
    expect(ours.chassis?.serialNumber).toBe(one(printed, 'Chassis Serial Number'));
    expect(ours.chassis?.custom).toEqual(printed.get('Chassis Custom Info'));
    // "03/14/25 - 09:26:00", MM/DD/YY in UTC
    const date = /^(\d\d)\/(\d\d)\/(\d\d) - (\d\d):(\d\d):(\d\d)$/.exec(one(printed, 'Board Manufacturing Date/Time')!)!;
    expect(ours.board?.manufactured).toBe(new Date(Date.UTC(2000 + Number(date[3]), Number(date[1]) - 1, Number(date[2]), Number(date[4]), Number(date[5]), Number(date[6]))).toISOString());
    expect(ours.board?.manufacturer).toBe(one(printed, 'Board Manufacturer'));
    expect(ours.board?.productName).toBe(one(printed, 'Board Product Name'));
    expect(ours.board?.serialNumber).toBe(one(printed, 'Board Serial Number'));
    // The BCD-plus part number is left out here: FreeIPMI reads BCD plus as one digit per byte and refuses the
    // packed two-digits-per-byte form ipmitool (and we) read, so the two peers disagree on that field.
    expect(ours.board?.custom).toEqual(printed.get('Board Custom Info'));
    expect(ours.product?.manufacturer).toBe(one(printed, 'Product Manufacturer Name'));
    expect(ours.product?.productName).toBe(one(printed, 'Product Name'));
    expect(ours.product?.partNumber).toBe(one(printed, 'Product Part/Model Number'));
    expect(ours.product?.version).toBe(one(printed, 'Product Version'));
    expect(ours.product?.serialNumber).toBe(one(printed, 'Product Serial Number'));
    expect(ours.product?.assetTag).toBe(one(printed, 'Product Asset Tag'));
  });

  it('gives the server an identity from Get Device ID and the FRU; ipmi_sim keeps no system firmware version (0xC1)', async () => {
    const driver = createIpmiDriver({ host: lab.host, port: lab.port, credentials });
    try {
      expect(await driver.identity()).toEqual({ source: 'ipmi', vendor: 'Lightsout', manufacturerId: 0xb7a1, model: 'Lab Server 1000 (LS-1000)', productId: 0x0042, serialNumber: 'PSN-0042', bmcFirmware: '2.05' });
    } finally {
      await driver.close();
    }
  });
});
