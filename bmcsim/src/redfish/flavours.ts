import type { BmcConfig, RedfishFlavour } from '../bmc/config.js';
import type { BootDevice } from '../host/host.js';

/**
 * What differs between the vendor families bmcsim imitates, in one table: a
 * flavour is a row here, not a condition in the handlers. Each difference is
 * one that a real client (sushy, redfishtool, the agent) has to cope with.
 */
export interface Flavour {
  /** Resource ids as the family names them (OpenBMC bmcweb, Supermicro X11/X12, the DMTF mockups). */
  ids: { system: string; manager: string; chassis: string };
  /** BootSourceOverrideTarget values → the host's boot device, in the order the ComputerSystem names the current one. */
  bootTargets: Readonly<Record<string, BootDevice>>;
  /** The Chassis Sensors collection (Chassis v1.9+): bmcweb offers it; the others only Thermal and Power. */
  sensorsCollection: boolean;
  /** Optional InsertMedia parameters the BMC refuses with ActionParameterUnknown (sushy then retries without them). */
  insertMediaRejects: readonly string[];
}

const STANDARD_TARGETS: Record<string, BootDevice> = { None: 'none', Pxe: 'pxe', Hdd: 'disk', Cd: 'cd', Usb: 'usb', BiosSetup: 'bios', Floppy: 'floppy', Diags: 'diag' };

export const FLAVOURS: Readonly<Record<RedfishFlavour, Flavour>> = {
  openbmc: { ids: { system: 'system', manager: 'bmc', chassis: 'chassis' }, bootTargets: STANDARD_TARGETS, sensorsCollection: true, insertMediaRejects: [] },
  supermicro: {
    ids: { system: '1', manager: '1', chassis: '1' },
    // X11/X12: "Cd" is accepted but is the physical drive (nothing boots from it here); only "UsbCd" boots virtual media.
    bootTargets: { ...STANDARD_TARGETS, Cd: 'none', UsbCd: 'cd' },
    sensorsCollection: false,
    insertMediaRejects: ['Inserted', 'WriteProtected'],
  },
  dmtf: { ids: { system: '437XR1138R2', manager: 'BMC', chassis: '1U' }, bootTargets: STANDARD_TARGETS, sensorsCollection: false, insertMediaRejects: [] },
};

export function flavourOf(config: BmcConfig): Flavour {
  return FLAVOURS[config.faults.redfishFlavour];
}
