import { setTimeout as delay } from 'node:timers/promises';
import { LightsoutError, type BootDevice, type BootOverride, type BootRequest, type BootResult, type PowerAction, type PowerResult, type SelList, type SensorList, type ServerIdentity, type ServerView } from '@lightsout/shared';
import { ExitCode } from '../exit-codes.js';
import { serverPath } from '../api.js';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

export const POWER_ACTIONS = ['status', 'on', 'off', 'cycle', 'reset', 'soft'] as const;
export const BOOT_DEVICES = ['pxe', 'disk', 'cd', 'bios', 'none', 'status'] as const;

/** What each action is called when it is reported: a cycle is a power cycle, not the "off" it passes through. */
const ACTION_NAMES: Record<PowerAction, string> = { on: 'power on', off: 'power off', soft: 'soft off (ACPI shutdown)', cycle: 'power cycle', reset: 'reset' };
/** How long past the relay's own deadline (it gives up first and says so) the CLI keeps asking. */
const CONFIRM_LIMIT_MS = 6 * 60_000;
const CONFIRM_POLL_MS = 500;

/**
 * `status` reads the power. An action prints what the BMC accepted, then
 * follows the server until the relay has confirmed it (the BMC reports the
 * target) or given up, and prints that; `--no-wait` stops after "accepted".
 */
export async function power(context: CommandContext, action: string, serverId: string, options: { json?: boolean; wait?: boolean }): Promise<void> {
  if (!(POWER_ACTIONS as readonly string[]).includes(action)) {
    throw new LightsoutError('BAD_REQUEST', `unknown power action ${action}`, { hint: `use one of: ${POWER_ACTIONS.join(', ')}` });
  }
  const api = await apiFor(context);
  const result = await api.post<PowerResult>(serverPath(serverId, 'power'), { action: action as PowerAction | 'status' });
  if (action === 'status') {
    context.output.out(options.json ? json(result) : printable(`${serverId}: power ${result.power}\n`, { newlines: true }));
    return;
  }
  const name = ACTION_NAMES[action as PowerAction];
  const pending = result.pending;
  if (!pending || options.wait === false) {
    context.output.out(options.json ? json(result) : printable(`${serverId}: ${name} accepted${result.via ? ` (${result.via})` : ''}\n`, { newlines: true }));
    return;
  }
  context.output.err(printable(`${serverId}: ${name} accepted${result.via ? ` (${result.via})` : ''}; waiting for the BMC to report ${pending.target}\n`, { newlines: true }));
  let view: ServerView | undefined;
  // bounded: the relay settles every pending action by its own deadline (at most 5 min, a soft off)
  for (const started = Date.now(); Date.now() - started < CONFIRM_LIMIT_MS; ) {
    view = await api.get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
    if (!view.pendingPower || view.pendingPower.since !== pending.since) break;
    await delay(CONFIRM_POLL_MS);
  }
  const outcome = view?.lastPower;
  if (!view || view.pendingPower?.since === pending.since || !outcome || outcome.action !== action) {
    throw new LightsoutError('BMC_TIMEOUT', `${name} was accepted, but the relay has not confirmed it`, { hint: `check the server with: lightsout power status ${serverId}` });
  }
  if (options.json) context.output.out(json({ power: view.power, action, outcome }));
  if (!outcome.confirmed) {
    throw new LightsoutError('BMC_TIMEOUT', `${name} was accepted, but after ${outcome.seconds} s the BMC still reports power ${view.power}`, {
      hint: 'the BMC may act later, or not at all: check the console or the event log (lightsout sel)',
      details: { outcome },
    });
  }
  if (!options.json) context.output.out(printable(`${serverId}: ${name} done: power ${view.power} (after ${outcome.seconds} s)\n`, { newlines: true }));
}

export async function boot(context: CommandContext, device: string, serverId: string, options: { persistent?: boolean; uefi?: boolean; legacy?: boolean; json?: boolean }): Promise<void> {
  if (!(BOOT_DEVICES as readonly string[]).includes(device)) {
    throw new LightsoutError('BAD_REQUEST', `unknown boot device ${device}`, { hint: `use one of: ${BOOT_DEVICES.join(', ')}` });
  }
  const api = await apiFor(context);
  // neither --uefi nor --legacy: the BMC keeps its boot mode
  const request: BootRequest = { device: device as BootDevice, persistent: options.persistent === true, ...(options.uefi ? { uefi: true } : options.legacy ? { uefi: false } : {}) };
  const result: BootResult = device === 'status' ? await api.get<BootOverride>(serverPath(serverId, 'boot')) : await api.post<BootResult>(serverPath(serverId, 'boot'), request);
  if (result.warning) {
    // what the BMC reports after the change differs from what was asked: say so, and exit non-zero
    context.output.err(printable(`warning: ${serverId}: ${result.warning}\n`, { newlines: true }));
    context.exitCode = ExitCode.BMC_DIFFERS;
  }
  if (options.json) {
    context.output.out(json(result));
    return;
  }
  const flags = [result.persistent ? 'persistent' : 'next boot only', result.uefi ? 'UEFI' : 'legacy'].join(', ');
  context.output.out(printable(`${serverId}: boot ${result.device} (${flags})\n`, { newlines: true }));
}

export async function sensors(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<SensorList>(serverPath(serverId, 'sensors'));
  if (options.json) {
    context.output.out(json(list));
    return;
  }
  context.output.out(table(['NAME', 'TYPE', 'VALUE', 'UNIT', 'STATUS'], list.sensors.map((sensor) => [sensor.name, sensor.type, sensor.value, sensor.unit, sensor.status])));
}

export async function sel(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<SelList>(serverPath(serverId, 'sel'));
  if (options.json) {
    context.output.out(json(list));
    return;
  }
  context.output.out(table(['ID', 'TIME', 'SENSOR', 'EVENT', 'DIRECTION'], list.entries.map((entry) => [entry.id, entry.time, entry.sensor, entry.event, entry.direction])));
}

/** What the BMC says it is (Redfish: system and manager; IPMI: Get Device ID, FRU, system info): "not reported" for what it did not say. */
export async function identity(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const found = await (await apiFor(context)).get<ServerIdentity>(serverPath(serverId, 'identity'));
  if (options.json) {
    context.output.out(json(found));
    return;
  }
  const vendor = found.vendor ?? (found.manufacturerId === undefined ? undefined : `IANA enterprise ${found.manufacturerId}`);
  const model = found.model ?? (found.productId === undefined ? undefined : `product ID 0x${found.productId.toString(16).padStart(4, '0')}`);
  const rows: [string, string | undefined][] = [['vendor', vendor], ['model', model], ['serial', found.serialNumber], ['BMC firmware', found.bmcFirmware], ['BIOS', found.biosVersion], ['read over', found.source === 'redfish' ? 'Redfish' : 'IPMI']];
  context.output.out(rows.map(([name, value]) => `${name.padEnd(13)}${printable(value ?? 'not reported')}\n`).join(''));
}
