import { LightsoutError, type BootDevice, type BootOverride, type BootRequest, type BootResult, type PowerAction, type PowerResult, type SelList, type SensorList } from '@lightsout/shared';
import { ExitCode } from '../exit-codes.js';
import { serverPath } from '../api.js';
import { json, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

export const POWER_ACTIONS = ['status', 'on', 'off', 'cycle', 'reset', 'soft'] as const;
export const BOOT_DEVICES = ['pxe', 'disk', 'cd', 'bios', 'none', 'status'] as const;

export async function power(context: CommandContext, action: string, serverId: string, options: { json?: boolean }): Promise<void> {
  if (!(POWER_ACTIONS as readonly string[]).includes(action)) {
    throw new LightsoutError('BAD_REQUEST', `unknown power action ${action}`, { hint: `use one of: ${POWER_ACTIONS.join(', ')}` });
  }
  const result = await (await apiFor(context)).post<PowerResult>(serverPath(serverId, 'power'), { action: action as PowerAction | 'status' });
  context.output.out(options.json ? json(result) : `${serverId}: power ${result.power}\n`);
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
    context.output.err(`warning: ${serverId}: ${result.warning}\n`);
    context.exitCode = ExitCode.BMC_DIFFERS;
  }
  if (options.json) {
    context.output.out(json(result));
    return;
  }
  const flags = [result.persistent ? 'persistent' : 'next boot only', result.uefi ? 'UEFI' : 'legacy'].join(', ');
  context.output.out(`${serverId}: boot ${result.device} (${flags})\n`);
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
