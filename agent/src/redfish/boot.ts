import { type BootDevice, type BootOverride, type BootRequest, type BootResult, LightsoutError } from '@lightsout/shared';
import { bootResultOf } from '../drivers/boot-readback.js';
import type { RedfishClient } from './client.js';
import { type JsonObject, linkAt, objectAt, stringAt, stringsAt } from './json.js';

/**
 * Boot source override (ComputerSystem.Boot, DSP2046): target, Once /
 * Continuous / Disabled, UEFI / Legacy. Written with PATCH + If-Match so a
 * concurrent change on the BMC is not overwritten blindly (DSP0266 §13.2.8).
 */
const TARGETS_OF: Record<BootDevice, readonly string[]> = {
  none: ['None'],
  pxe: ['Pxe'],
  disk: ['Hdd'],
  // Supermicro X11/X12 boot virtual media only as UsbCd (protocol notes §4)
  cd: ['Cd', 'UsbCd'],
  bios: ['BiosSetup'],
};

const DEVICE_OF: Record<string, BootDevice> = {
  None: 'none',
  Pxe: 'pxe',
  Hdd: 'disk',
  Cd: 'cd',
  UsbCd: 'cd',
  BiosSetup: 'bios',
};

export function bootOverrideOf(system: JsonObject): BootOverride {
  const boot = objectAt(system, 'Boot');
  const enabled = stringAt(boot, 'BootSourceOverrideEnabled');
  const target = stringAt(boot, 'BootSourceOverrideTarget') ?? 'None';
  return {
    device: enabled === 'Disabled' ? 'none' : (DEVICE_OF[target] ?? 'none'),
    persistent: enabled === 'Continuous',
    uefi: stringAt(boot, 'BootSourceOverrideMode') === 'UEFI',
  };
}

/**
 * Booting the *virtual* CD: where a BMC offers UsbCd at all it is the virtual
 * drive (Supermicro X11/X12 list both, and "Cd" is the physical SATA drive
 * there); iDRAC, iLO, XCC and OpenBMC offer no UsbCd and boot virtual media as Cd.
 */
const VIRTUAL_CD_TARGETS: readonly string[] = ['UsbCd', 'Cd'];

/** The BMC's name for a device: the first candidate it allows (all of them allowed when it does not say). */
export function chooseBootTarget(device: BootDevice, allowable: readonly string[] | undefined, virtualMedia = false): string {
  const candidates = device === 'cd' && virtualMedia && allowable ? VIRTUAL_CD_TARGETS : TARGETS_OF[device];
  if (!allowable) return candidates[0]!;
  const chosen = candidates.find((target) => allowable.includes(target));
  if (!chosen) throw new LightsoutError('BMC_UNSUPPORTED', `the BMC cannot boot from "${device}"`, { details: { allowable } });
  return chosen;
}

export function bootPatchOf(system: JsonObject, override: BootRequest, virtualMedia = false): JsonObject {
  const boot = objectAt(system, 'Boot');
  const allowable = stringsAt(boot, 'BootSourceOverrideTarget@Redfish.AllowableValues');
  const patch: JsonObject = {
    BootSourceOverrideTarget: chooseBootTarget(override.device, allowable, virtualMedia),
    BootSourceOverrideEnabled: override.device === 'none' ? 'Disabled' : override.persistent ? 'Continuous' : 'Once',
  };
  // The mode is written only when asked (absent = the BMC keeps its own), and
  // only to BMCs that report one: older ones reject the unknown property.
  if (override.uefi !== undefined && boot && 'BootSourceOverrideMode' in boot && override.device !== 'none') patch.BootSourceOverrideMode = override.uefi ? 'UEFI' : 'Legacy';
  return { Boot: patch };
}

/**
 * The If-Match to send after a 412 to `sent`, when a fresh read gives the same
 * ETag: the resource did not change, so the BMC refused the form. Some
 * compare weak ETags as strong ones only (Lenovo XCC, Gigabyte): the strong
 * form next; then none at all, as sushy's ETag handler does. `null`: nothing
 * left to try.
 */
export function nextIfMatch(sent: string | undefined): string | undefined | null {
  if (sent === undefined) return null;
  return sent.startsWith('W/') ? sent.slice(2) : undefined;
}

/** Writes the override, then reads it back: the result says what the BMC kept, with a warning when that differs from the request. */
export async function setBootOverride(client: RedfishClient, systemPath: string, override: BootRequest, virtualMedia = false): Promise<BootResult> {
  let refused: { read: string | undefined; sent: string | undefined } | undefined;
  let changes = 0;
  for (;;) {
    const { body: system, etag } = await client.get(systemPath);
    const patch = bootPatchOf(system, override, virtualMedia);
    // properties behind @Redfish.Settings are written to the settings object (DSP0266 §9.9)
    const settingsPath = linkAt(objectAt(system, '@Redfish.Settings'), 'SettingsObject');
    // After a 412: another form of the same ETag if the resource is unchanged, else the new one.
    const ifMatch = refused === undefined || refused.read !== etag ? etag : nextIfMatch(refused.sent);
    if (ifMatch === null) throw new LightsoutError('BMC_PROTOCOL_ERROR', 'the BMC refused every form of the ETag it gave for the boot settings (412)', { details: { etag } });
    try {
      await client.request('PATCH', systemPath, { body: patch, ...(ifMatch ? { ifMatch } : {}) });
    } catch (error) {
      const status = error instanceof LightsoutError ? error.details?.status : undefined;
      if (status === 412) {
        // changed under us (a new ETag on the next read: try again, once), or the form refused (the same ETag)
        if (refused !== undefined && refused.read !== etag) changes += 1;
        if (changes > 1) throw new LightsoutError('BMC_BUSY', 'the boot settings kept changing while being written');
        refused = { read: etag, sent: ifMatch };
        continue;
      }
      if (status === 405 && settingsPath) {
        const settings = await client.get(settingsPath);
        await client.request('PATCH', settingsPath, { body: patch, ...(settings.etag ? { ifMatch: settings.etag } : {}) });
      } else {
        throw error;
      }
    }
    return bootResultOf(override, bootOverrideOf((await client.get(systemPath)).body));
  }
}
