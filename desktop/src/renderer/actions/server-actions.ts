import type { BootDevice, BootRequest, BootResult, Capability, PowerAction, PowerResult, ServerView } from '@lightsout/shared';

/** Power actions as the menus show them; `destructive` ones ask for confirmation first. */
export const POWER_ACTIONS: readonly { action: PowerAction; label: string; destructive: boolean; describe: string }[] = [
  { action: 'on', label: 'Power on', destructive: false, describe: 'power on' },
  { action: 'soft', label: 'Soft shutdown (ACPI)', destructive: true, describe: 'ask the OS to shut down' },
  { action: 'off', label: 'Power off', destructive: true, describe: 'cut power immediately (unsaved data is lost)' },
  { action: 'cycle', label: 'Power cycle', destructive: true, describe: 'power off, then on again' },
  { action: 'reset', label: 'Hard reset', destructive: true, describe: 'reset without shutting down the OS' },
];

export const BOOT_DEVICES: readonly { device: BootDevice; label: string }[] = [
  { device: 'pxe', label: 'Network (PXE)' },
  { device: 'disk', label: 'Disk' },
  { device: 'cd', label: 'CD / virtual media' },
  { device: 'bios', label: 'BIOS setup' },
  { device: 'none', label: 'No override' },
];

/** The boot dialog's mode choice: `keep` leaves the BMC's UEFI or Legacy as it is. */
export type BootModeChoice = 'keep' | 'uefi' | 'legacy';

/** A boot request names a mode only when one was chosen: a device change never switches UEFI/Legacy unasked. */
export function bootRequest(device: BootDevice, persistent: boolean, mode: BootModeChoice): BootRequest {
  return { device, persistent, ...(mode === 'keep' ? {} : { uefi: mode === 'uefi' }) };
}

function bootDeviceText(result: Pick<BootResult, 'device' | 'persistent'>): string {
  return `boot ${result.device}${result.persistent ? ' (every boot)' : ' (next boot)'}`;
}

/** A results-dialog row: the override the BMC reports, and its read-back warning when it kept something else. */
export function bootResultText(result: Pick<BootResult, 'device' | 'persistent' | 'warning'>): string {
  return `${bootDeviceText(result)}${result.warning ? ` — ${result.warning}` : ''}`;
}

/**
 * One server's boot override: the BMC read back something other than what
 * was asked (it kept "once" as persistent) is said through `warn` (an error
 * toast), not shown as a quiet success.
 */
export async function setBootOf(serverId: string, request: BootRequest, setBoot: (serverId: string, request: BootRequest) => Promise<BootResult>, warn: (message: string) => void): Promise<string> {
  const result = await setBoot(serverId, request);
  if (result.warning) warn(`${serverId}: ${result.warning}`);
  return bootDeviceText(result);
}

export function powerActionInfo(action: PowerAction) {
  return POWER_ACTIONS.find((entry) => entry.action === action)!;
}

/** What a set of servers can do: an action is offered when at least one server supports it. */
export function capabilitiesOf(servers: readonly ServerView[]): Set<Capability> {
  const capabilities = new Set<Capability>();
  for (const server of servers) for (const capability of server.capabilities) capabilities.add(capability);
  return capabilities;
}

/** The console kind opened by double-click: text first (cheap, searchable), graphics when that is all there is. */
export function defaultConsoleKind(server: ServerView): 'sol' | 'serial' | 'vnc' | null {
  if (server.capabilities.includes('sol')) return 'sol';
  if (server.capabilities.includes('serial')) return 'serial';
  if (server.capabilities.includes('vnc')) return 'vnc';
  return null;
}

/**
 * Whether a power action can do anything to at least one of these servers.
 * A power state the relay does not know yet ("unknown") counts as either:
 * the BMC is the judge then. Power on needs a server that is not on; the
 * others need one that is (a cycle or reset of a server that is off is
 * refused by most BMCs, IPMI v2.0 §28.3 leaves it to them).
 */
export function powerActionApplies(action: PowerAction, servers: readonly ServerView[]): boolean {
  return servers.some((server) => server.power === 'unknown' || (action === 'on' ? server.power !== 'on' : server.power === 'on'));
}

/** Whether eject has something to eject on at least one server (`media` absent: an older relay, so unknown — offered). */
export function ejectApplies(servers: readonly ServerView[]): boolean {
  return servers.some((server) => server.media !== null);
}

/** The selected servers that a filter still shows: what is out of sight is out of the selection, so "N selected" is what actions reach. */
export function visibleSelection(selected: ReadonlySet<string>, visible: ReadonlySet<string>): Set<string> {
  return new Set([...selected].filter((id) => visible.has(id)));
}

/**
 * What a power action did, in the action's own words: "Power cycle done —
 * the server is on", or, while the BMC has accepted it but not yet reported
 * the result, "Power cycle accepted — waiting for the server to come on".
 * Never the bare resulting state, which read "power off" after a cycle.
 */
export function powerOutcomeText(action: PowerAction, result: PowerResult): string {
  const label = powerActionInfo(action).label;
  if (result.pending) return `${label} accepted — waiting for the server to ${result.pending.target === 'on' ? 'come on' : 'go off'}`;
  if (result.power === 'unknown') return `${label} sent — the BMC does not report the power state`;
  return `${label} done — the server is ${result.power}`;
}
