import { NET_FN } from '../message.js';
import { wireError } from '../errors.js';
import { type CommandRequest, requestData, responseData } from './command.js';

// Chassis netFn (0x00) commands, IPMI v2.0 §28.
export const CHASSIS_COMMAND = { getStatus: 0x01, control: 0x02, setBootOptions: 0x08, getBootOptions: 0x09 } as const;

// Get Chassis Status response, §28.2:
// | current power state (1: 0x01 on, 0x02 overload, 0x04 interlock, 0x08 main power fault, 0x10 power control fault,
// |   bits 6:5 restore policy) | last power event (1) | misc chassis state (1) | [front panel buttons (1)] |
export interface ChassisStatus {
  powerOn: boolean;
  overload: boolean;
  interlock: boolean;
  mainPowerFault: boolean;
  powerControlFault: boolean;
  restorePolicy: 'always-off' | 'previous' | 'always-on' | 'unknown';
  lastPowerEvent: number;
  miscState: number;
}

const RESTORE_POLICIES = ['always-off', 'previous', 'always-on', 'unknown'] as const;

export const getChassisStatusRequest = (): CommandRequest => ({ netFn: NET_FN.chassis, command: CHASSIS_COMMAND.getStatus, data: new Uint8Array() });

export function decodeChassisStatus(data: Uint8Array): ChassisStatus {
  responseData(data, 3, 'Get Chassis Status');
  const power = data[0]!;
  return {
    powerOn: (power & 0x01) !== 0,
    overload: (power & 0x02) !== 0,
    interlock: (power & 0x04) !== 0,
    mainPowerFault: (power & 0x08) !== 0,
    powerControlFault: (power & 0x10) !== 0,
    restorePolicy: RESTORE_POLICIES[(power >> 5) & 0x03]!,
    lastPowerEvent: data[1]!,
    miscState: data[2]!,
  };
}

export function encodeChassisStatus(status: Pick<ChassisStatus, 'powerOn'> & Partial<ChassisStatus>): Uint8Array {
  const policy = RESTORE_POLICIES.indexOf(status.restorePolicy ?? 'always-off');
  const power = (status.powerOn ? 0x01 : 0) | (status.overload ? 0x02 : 0) | (status.interlock ? 0x04 : 0) | (status.mainPowerFault ? 0x08 : 0) | (status.powerControlFault ? 0x10 : 0) | (policy << 5);
  return Uint8Array.of(power, status.lastPowerEvent ?? 0, status.miscState ?? 0);
}

// Chassis Control request, §28.3: | control (1: 0 down, 1 up, 2 cycle, 3 hard reset, 4 diagnostic interrupt, 5 soft/ACPI off) |
export const CHASSIS_CONTROL = { off: 0x00, on: 0x01, cycle: 0x02, reset: 0x03, diagnosticInterrupt: 0x04, soft: 0x05 } as const;
export type ChassisControl = keyof typeof CHASSIS_CONTROL;

export const chassisControlRequest = (control: ChassisControl): CommandRequest => ({ netFn: NET_FN.chassis, command: CHASSIS_COMMAND.control, data: Uint8Array.of(CHASSIS_CONTROL[control]) });

export function decodeChassisControlRequest(data: Uint8Array): ChassisControl {
  const value = requestData(data, 1, 'Chassis Control')[0]! & 0x0f;
  const entry = Object.entries(CHASSIS_CONTROL).find(([, code]) => code === value);
  if (entry === undefined) throw wireError('BAD_FIELD', `chassis control ${value}`);
  return entry[0] as ChassisControl;
}

// Set System Boot Options request, §28.12: | parameter selector (1: bit 7 = mark invalid) | parameter data … |
// Get System Boot Options request, §28.13: | parameter selector (1) | set selector (1) | block selector (1) |
//   response | parameter version 0x01 (1) | parameter valid (1: bit 7 = invalid/locked, bits 6:0 selector) | data … |
export const BOOT_PARAMETER = { setInProgress: 0, bootInfoAcknowledge: 4, bootFlags: 5 } as const;

export const setBootOptionRequest = (parameter: number, data: Uint8Array): CommandRequest => {
  const body = new Uint8Array(1 + data.length);
  body[0] = parameter & 0x7f;
  body.set(data, 1);
  return { netFn: NET_FN.chassis, command: CHASSIS_COMMAND.setBootOptions, data: body };
};

export const getBootOptionRequest = (parameter: number): CommandRequest => ({ netFn: NET_FN.chassis, command: CHASSIS_COMMAND.getBootOptions, data: Uint8Array.of(parameter & 0x7f, 0, 0) });

export function decodeBootOptionResponse(data: Uint8Array): { parameter: number; valid: boolean; data: Uint8Array } {
  responseData(data, 2, 'Get System Boot Options');
  return { parameter: data[1]! & 0x7f, valid: (data[1]! & 0x80) === 0, data: data.slice(2) };
}

// Boot flags, parameter 5, §28.13 table 28-14:
// | byte 1: bit 7 valid, bit 6 persistent (else next boot only), bit 5 EFI |
// | byte 2: bits 5:2 device (0x04 PXE, 0x08 disk, 0x0C disk safe mode, 0x10 diagnostic, 0x14 CD/DVD, 0x18 BIOS setup, 0x3C floppy) … |
// | bytes 3–5: console redirection, BIOS verbosity, device instance (0 = defaults) |
export type BootFlagsDevice = 'none' | 'pxe' | 'disk' | 'disk-safe' | 'diagnostic' | 'cd' | 'bios' | 'floppy';
export interface BootFlags {
  valid: boolean;
  persistent: boolean;
  efi: boolean;
  device: BootFlagsDevice;
}

const BOOT_DEVICE_CODES: Record<BootFlagsDevice, number> = { none: 0x00, pxe: 0x04, disk: 0x08, 'disk-safe': 0x0c, diagnostic: 0x10, cd: 0x14, bios: 0x18, floppy: 0x3c };

export function encodeBootFlags(flags: BootFlags): Uint8Array {
  return Uint8Array.of((flags.valid ? 0x80 : 0) | (flags.persistent ? 0x40 : 0) | (flags.efi ? 0x20 : 0), BOOT_DEVICE_CODES[flags.device], 0, 0, 0);
}

export function decodeBootFlags(data: Uint8Array): BootFlags {
  responseData(data, 2, 'boot flags');
  const code = data[1]! & 0x3c;
  const device = (Object.entries(BOOT_DEVICE_CODES).find(([, value]) => value === code)?.[0] ?? 'none') as BootFlagsDevice;
  return { valid: (data[0]! & 0x80) !== 0, persistent: (data[0]! & 0x40) !== 0, efi: (data[0]! & 0x20) !== 0, device };
}
