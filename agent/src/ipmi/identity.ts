import type { ServerIdentity } from '@lightsout/shared';
import type { DeviceId, FruInfo } from '@lightsout/bmc-wire/ipmi';

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
  return identityOf(device);
}

/**
 * The identity from Get Device ID, the BMC's FRU (FRU spec §10–§12) and the system firmware version (Get System
 * Info Parameters): the product area describes the machine as sold, the board area the mainboard, the chassis
 * area the enclosure, so each field takes the product's value first. Placeholders vendors leave in unprogrammed
 * fields ("To Be Filled By O.E.M.") count as absent, so the next source is tried.
 */
export function identityOf(device: DeviceId, fru: FruInfo = {}, biosVersion?: string): ServerIdentity {
  const { product, board, chassis } = fru;
  const vendor = first(product?.manufacturer, board?.manufacturer) ?? IANA_VENDORS.get(device.manufacturerId);
  const serialNumber = first(product?.serialNumber, chassis?.serialNumber, board?.serialNumber);
  const bios = first(biosVersion);
  return {
    source: 'ipmi',
    ...(vendor === undefined ? {} : { vendor }),
    manufacturerId: device.manufacturerId,
    ...optional('model', modelOf(fru)),
    productId: device.productId,
    ...optional('serialNumber', serialNumber),
    bmcFirmware: device.firmware,
    ...optional('biosVersion', bios),
  };
}

/** Product name (else the board's), with the product's part/model number when it adds to the name. */
function modelOf({ product, board }: FruInfo): string | undefined {
  const name = first(product?.productName, board?.productName);
  const part = first(product?.partNumber);
  if (name === undefined) return part;
  if (part === undefined || name.toLowerCase().includes(part.toLowerCase())) return name;
  return `${name} (${part})`;
}

const PLACEHOLDERS: ReadonlySet<string> = new Set(['to be filled by o.e.m.', 'default string', 'not specified', 'not applicable', 'none', 'n/a', 'na', 'unknown', '0123456789', 'system serial number', 'system product name', 'system manufacturer']);

/** The first value that is text, not a placeholder; control characters dropped. */
function first(...values: (string | undefined)[]): string | undefined {
  for (const value of values) {
    // eslint-disable-next-line no-control-regex
    const text = value?.replace(/[\u0000-\u001f\u007f]/g, '').trim();
    if (text !== undefined && text !== '' && !PLACEHOLDERS.has(text.toLowerCase())) return text.slice(0, 256);
  }
  return undefined;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
