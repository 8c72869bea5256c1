import type { BootOverride, BootRequest, BootResult } from '@lightsout/shared';

/**
 * What a BMC did with a boot override request, read back after the write.
 * BMCs answer 204 and then keep something else (one emulator stores "Once"
 * as "Continuous"; Supermicro accepts "Cd" and boots nothing from it): a
 * success is only what the read-back shows, anything else is a warning the
 * caller shows to the user.
 */
export function bootResultOf(requested: BootRequest, actual: BootOverride): BootResult {
  const problems: string[] = [];
  if (actual.device !== requested.device) problems.push(`reports boot device "${actual.device}", not "${requested.device}"`);
  if (requested.device !== 'none' && actual.device === requested.device) {
    const wantedPersistent = requested.persistent === true;
    if (actual.persistent && !wantedPersistent) problems.push('kept the override persistent instead of for the next boot only');
    if (!actual.persistent && wantedPersistent) problems.push('set the override for the next boot only, not persistent');
  }
  if (requested.uefi !== undefined && actual.uefi !== requested.uefi) problems.push(`kept ${actual.uefi ? 'UEFI' : 'Legacy'} boot mode`);
  const result: BootResult = { device: actual.device, persistent: actual.persistent, uefi: actual.uefi };
  if (problems.length > 0) result.warning = `the BMC accepted the boot override but ${problems.join(', and ')}`;
  return result;
}
