import type { BmcLinkStatus, BootOverride, BootRequest, BootResult, PowerAction, PowerResult, SelList, SensorList, ServerIdentity } from '@lightsout/shared';

/**
 * What the agent needs from a BMC protocol. One implementation per protocol
 * (ipmi/, redfish/), chosen per server by its configured endpoints. Every
 * method rejects with a LightsoutError carrying a BMC_* code.
 */
export interface BmcDriver {
  readonly protocol: 'ipmi' | 'redfish';
  powerGet(): Promise<PowerResult>;
  powerSet(action: PowerAction): Promise<PowerResult>;
  bootGet(): Promise<BootOverride>;
  /** Writes the override, reads it back, and warns (BootResult.warning) when the BMC did not do what was asked. */
  bootSet(request: BootRequest): Promise<BootResult>;
  sensors(): Promise<SensorList>;
  /** Vendor, model, serial, BMC firmware, BIOS version: what the BMC reports of them. */
  identity(): Promise<ServerIdentity>;
  sel(): Promise<SelList>;
  selClear(): Promise<void>;
  /** Releases sockets, sessions and timers. Idempotent. */
  close(): Promise<void>;
  /** What the driver knows about its link to the BMC (credentials rejected, negotiated protocol); drivers without it omit it. */
  linkStatus?(): BmcLinkStatus;
  /** Lets the next login through at once although the BMC rejected the credentials before. */
  retryCredentials?(): void;
}

/** Resolved credentials: read from env or file by the agent, never logged, never sent upstream. */
export interface BmcCredentials {
  username: string;
  password: string;
}
