import type { ServerIdentity } from '@lightsout/shared';
import type { DeviceId } from '@lightsout/bmc-wire/ipmi';

/**
 * Vendor names for the IANA Private Enterprise Numbers BMCs put in Get Device
 * ID's manufacturer field (IPMI v2.0 §20.1; numbers from
 * https://www.iana.org/assignments/enterprise-numbers). Deliberately short:
 * the vendors of the servers we meet. Any other number is shown as a number
 * (docs/ipmi.md), never guessed.
 */
export const IANA_VENDORS: ReadonlyMap<number, string> = new Map([
  [2, 'IBM'],
  [9, 'Cisco'],
  [11, 'HPE'], // Hewlett-Packard's number; iLO still reports it
  [232, 'HPE'], // Compaq's number, on older ProLiant BMCs
  [343, 'Intel'],
  [674, 'Dell'],
  [2011, 'Huawei'],
  [7244, 'Quanta'],
  [10368, 'Fujitsu'],
  [10876, 'Supermicro'],
  [19046, 'Lenovo'],
  [47196, 'HPE'],
]);

/** What Get Device ID says of the machine: its BMC firmware and who made it; no serial or BIOS version (that is FRU or OEM data). */
export function identityOfDeviceId(device: DeviceId): ServerIdentity {
  const vendor = IANA_VENDORS.get(device.manufacturerId);
  return {
    source: 'ipmi',
    ...(vendor === undefined ? {} : { vendor }),
    manufacturerId: device.manufacturerId,
    productId: device.productId,
    bmcFirmware: device.firmware,
  };
}
