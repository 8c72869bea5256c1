import type { BootResult } from '@lightsout/shared';

/**
 * What the one-action media flow needs from a BMC driver beyond BmcDriver.
 * Only drivers of protocols with virtual media (Redfish) implement it; the
 * flow checks with `hasVirtualMedia` and says clearly when a BMC has none.
 */
export interface VirtualMediaSlotState {
  slotPath: string;
  inserted: boolean;
  image: string | null;
  connectedVia: string | null;
}

export interface VirtualMediaDriver {
  /** Attaches the image at `imageUrl` as a read-only CD; resolves once the BMC reports it inserted. */
  mediaInsert(imageUrl: string): Promise<{ quirks: string[]; slot: VirtualMediaSlotState }>;
  /** Boot-once from the virtual CD, whatever this BMC calls it; keeps the current UEFI/Legacy mode. Read back: `warning` when the BMC kept something else. */
  mediaBootOnce(): Promise<BootResult>;
  /** Ejects whatever is inserted; returns the slot as it was before (`inserted` false: there was nothing to eject). */
  mediaEject(): Promise<VirtualMediaSlotState>;
  mediaGet(): Promise<VirtualMediaSlotState>;
  /** The BMC's address as it will connect to the agent's media server, when known (signing by source address). */
  readonly bmcHost: string;
}

export function hasVirtualMedia(driver: object): driver is VirtualMediaDriver {
  return typeof (driver as Partial<VirtualMediaDriver>).mediaInsert === 'function';
}

/** An image URL as logs and errors may show it: no user info, no query (either may carry a credential). */
export function redactedImage(image: string | null): string | null {
  if (image === null) return null;
  try {
    const url = new URL(image);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return image.slice(0, 200);
  }
}
