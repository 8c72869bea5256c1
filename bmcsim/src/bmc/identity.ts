import { encodeFru } from '@lightsout/bmc-wire/ipmi';
import type { BmcConfig } from './config.js';

/** What the simulated machine reports as its BIOS and BMC firmware versions (the server page's identity block). */
export const BMCSIM_BIOS_VERSION = '2.4.1';
export const BMCSIM_FIRMWARE_VERSION = 'bmcsim-1.0';
export const BMCSIM_MANUFACTURER = 'Lightsout';
export const BMCSIM_MODEL = 'bmcsim virtual server';
/** SMBIOS chassis type 0x17, rack mount chassis (FRU spec §10 uses SMBIOS's table). */
const RACK_MOUNT_CHASSIS = 0x17;

/** The machine's serial: the same over Redfish (ComputerSystem.SerialNumber) and IPMI (FRU product serial). */
export function bmcsimSerialNumber(config: Pick<BmcConfig, 'seed'>): string {
  return `SIM${String(config.seed).padStart(6, '0')}`;
}

/** FRU inventory size reported by Get FRU Inventory Area Info: the image padded with zeros, as an EEPROM is. */
export const BMCSIM_FRU_SIZE = 256;

/**
 * FRU device 0 (FRU spec v1.0): chassis, board and product areas describing the same machine the Redfish
 * ComputerSystem does, so the server page shows one identity whichever protocol the agent uses.
 */
export function bmcsimFru(config: Pick<BmcConfig, 'seed'>): Uint8Array {
  const serialNumber = bmcsimSerialNumber(config);
  const image = encodeFru({
    chassis: { type: RACK_MOUNT_CHASSIS, partNumber: 'SIM-CHASSIS', serialNumber: `C${serialNumber}` },
    board: { manufactured: new Date('2024-01-01T00:00:00Z'), manufacturer: BMCSIM_MANUFACTURER, productName: 'bmcsim board', serialNumber: `B${serialNumber}`, partNumber: 'SIM-BOARD' },
    product: { manufacturer: BMCSIM_MANUFACTURER, productName: BMCSIM_MODEL, version: '1.0', serialNumber },
  });
  const out = new Uint8Array(BMCSIM_FRU_SIZE);
  out.set(image);
  return out;
}
