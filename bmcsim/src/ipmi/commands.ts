import {
  APP_COMMAND,
  BOOT_PARAMETER,
  CHASSIS_COMMAND,
  COMPLETION,
  decodeBootFlags,
  decodeChassisControlRequest,
  encodeBootFlags,
  encodeChassisStatus,
  encodeDeviceId,
  encodePayloadActivation,
  encodeSelInfo,
  encodeSensorReading,
  NET_FN,
  PRIVILEGE,
  SDR_COMMAND,
  SEL_COMMAND,
  FRU_COMMAND,
  PARAMETER_NOT_SUPPORTED,
  SYSTEM_INFO_COMMAND,
  SYSTEM_INFO_PARAMETER,
  decodeFruDeviceRequest,
  decodeGetSystemInfoRequest,
  decodeReadFruDataRequest,
  encodeFruInventoryAreaInfo,
  encodeReadFruData,
  encodeSystemInfoStringSet,
  type BootFlagsDevice,
} from '@lightsout/bmc-wire/ipmi';
import type { BmcFaults } from '../bmc/config.js';
import { BMCSIM_BIOS_VERSION, BMCSIM_FRU_SIZE, bmcsimFru } from '../bmc/identity.js';
import type { Bmc } from '../bmc/bmc.js';
import { rawReading, SENSORS, sensorReading } from '../bmc/sensors.js';
import type { BootDevice } from '../host/host.js';
import { encodeSelRecord, sdrRepository } from './records.js';
import type { SolOwner, SolPayload } from './sol.js';

/**
 * IPMI command handlers for a session that is already authenticated (both
 * RMCP+ and v1.5 sessions land here). Each returns a completion code and the
 * response data; privilege is checked against the table below (IPMI v2.0
 * Appendix G lists the minimum privilege of every command).
 */
export interface CommandSession {
  sessionId: number;
  privilege: number;
  maxPrivilege: number;
  /** This session as a SOL owner (RMCP+ only). */
  solOwner: SolOwner | undefined;
}

export interface CommandContext {
  bmc: Bmc;
  sol: SolPayload;
  /** The UDP port the BMC listens on, reported by Activate Payload. */
  port: number;
  closeSession(sessionId: number): boolean;
  /** Get Session Info (§22.20) for the session `index` names, as seen from `session`. */
  sessionInfo(session: CommandSession, request: Uint8Array): CommandResult;
}

export interface CommandResult {
  completionCode: number;
  data?: Uint8Array;
}

const ok = (data: Uint8Array = new Uint8Array()): CommandResult => ({ completionCode: COMPLETION.ok, data });
const fail = (completionCode: number): CommandResult => ({ completionCode });

export const SIMULATOR_MANUFACTURER_ID = 32473;

const TRANSPORT_GET_SOL_CONFIGURATION = 0x22;
const TRANSPORT_SET_SOL_CONFIGURATION = 0x21;
const SENSOR_GET_READING = 0x2d;
const SENSOR_GET_THRESHOLDS = 0x27;
const SENSOR_EVENT_PLATFORM_EVENT = 0x02;
const SEL_GET_TIME = 0x48;
const APP_GET_CHANNEL_PAYLOAD_VERSION = 0x4f;
const APP_GET_CHANNEL_INFO = 0x42;

/** Minimum privilege per `netFn:command`; anything unlisted needs USER. */
const MINIMUM_PRIVILEGE = new Map<string, number>([
  [`${NET_FN.chassis}:${CHASSIS_COMMAND.control}`, PRIVILEGE.operator],
  [`${NET_FN.chassis}:${CHASSIS_COMMAND.setBootOptions}`, PRIVILEGE.operator],
  [`${NET_FN.storage}:${SEL_COMMAND.clear}`, PRIVILEGE.operator],
  [`${NET_FN.transport}:${TRANSPORT_SET_SOL_CONFIGURATION}`, PRIVILEGE.administrator],
]);

const BOOT_DEVICES: Record<BootFlagsDevice, BootDevice> = { none: 'none', pxe: 'pxe', disk: 'disk', 'disk-safe': 'safe', diagnostic: 'diag', cd: 'cd', bios: 'bios', floppy: 'floppy' };

export function handleCommand(context: CommandContext, session: CommandSession, netFn: number, command: number, data: Uint8Array): CommandResult {
  const minimum = MINIMUM_PRIVILEGE.get(`${netFn}:${command}`) ?? PRIVILEGE.user;
  if (session.privilege < minimum) return fail(COMPLETION.insufficientPrivilege);
  switch (netFn) {
    case NET_FN.app:
      return app(context, session, command, data);
    case NET_FN.chassis:
      return chassis(context, command, data);
    case NET_FN.storage:
      return storage(context, command, data);
    case NET_FN.sensor:
      return sensor(context, command, data);
    case NET_FN.transport:
      return transport(context, command, data);
    default:
      return fail(COMPLETION.invalidCommand);
  }
}

export function deviceId(faults: Pick<BmcFaults, 'noSdrRepository' | 'noFru'> = { noSdrRepository: false, noFru: false }): Uint8Array {
  // Device 0x20, IPMI 2.0, additional support (§20.1): chassis (7), FRU inventory (3), SEL (2), SDR repository (1), sensor (0).
  // Manufacturer 32473: the IANA enterprise number reserved for documentation and examples (RFC 5612),
  // so no tool mistakes the simulator for a real vendor's BMC.
  const additionalSupport = 0x85 | (faults.noSdrRepository ? 0 : 0x02) | (faults.noFru ? 0 : 0x08);
  return encodeDeviceId({ deviceId: 0x20, deviceRevision: 0x01, firmwareMajor: 1, firmwareMinorBcd: 0x00, additionalSupport, manufacturerId: SIMULATOR_MANUFACTURER_ID, productId: 0x5349 });
}

function app(context: CommandContext, session: CommandSession, command: number, data: Uint8Array): CommandResult {
  switch (command) {
    case APP_COMMAND.getDeviceId:
      return ok(deviceId(context.bmc.config.faults));
    case SYSTEM_INFO_COMMAND.getParameters:
      return systemInfo(data);
    case APP_COMMAND.setSessionPrivilege: {
      const requested = (data[0] ?? 0) & 0x0f;
      if (requested === 0) return ok(Uint8Array.of(session.privilege));
      if (requested < PRIVILEGE.user || requested > PRIVILEGE.oem) return fail(COMPLETION.invalidDataField);
      if (requested > session.maxPrivilege) return fail(0x81); // requested level not available for this user
      session.privilege = requested;
      return ok(Uint8Array.of(requested));
    }
    case APP_COMMAND.closeSession: {
      if (data.length < 4) return fail(COMPLETION.requestLengthInvalid);
      const target = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
      return context.closeSession(target) ? ok() : fail(0x87);
    }
    case APP_COMMAND.activatePayload:
      return activatePayload(context, session, data);
    case APP_COMMAND.deactivatePayload: {
      if ((data[0] ?? 0) !== 1) return fail(COMPLETION.invalidDataField);
      return context.sol.deactivate() ? ok() : fail(0x80); // 0x80: payload already deactivated
    }
    case APP_COMMAND.getPayloadActivationStatus:
      // | instance capacity (1) | instances 1–8 active bitmap (1) | instances 9–16 (1) |
      return ok(Uint8Array.of(1, context.sol.active ? 1 : 0, 0));
    case APP_COMMAND.getPayloadInstanceInfo: {
      if (context.bmc.config.faults.noPayloadInstanceInfo) return fail(COMPLETION.invalidCommand);
      const owner = (data[0] ?? 0) === 1 && context.sol.active ? context.sol.ownerSessionId : 0;
      return ok(Uint8Array.of(owner & 0xff, (owner >>> 8) & 0xff, (owner >>> 16) & 0xff, owner >>> 24, 0, 0, 0, 0, 0, 0, 0, 0));
    }
    case APP_COMMAND.getChannelPayloadSupport:
      // Standard payloads IPMI (0) and SOL (1); session setup payloads 0x10–0x15.
      return ok(Uint8Array.of(0x03, 0x00, 0x3f, 0x00, 0, 0, 0, 0));
    case APP_GET_CHANNEL_PAYLOAD_VERSION:
      return ok(Uint8Array.of(0x10));
    case APP_GET_CHANNEL_INFO: {
      // Channel 1 (or 0x0E, "this channel") is the only one: 802.3 LAN, IPMB-1.0 protocol… multi-session,
      // 0 active; IANA 0x001BF2 (IPMI forum). Any other channel does not exist (§22.24: 0xCC).
      const channel = (data[0] ?? 0) & 0x0f;
      if (channel !== 1 && channel !== 0x0e) return fail(COMPLETION.invalidDataField);
      return ok(Uint8Array.of(0x01, 0x04, 0x01, 0x82, 0xf2, 0x1b, 0x00, 0x00, 0x00));
    }
    case APP_COMMAND.getSessionInfo:
      return context.sessionInfo(session, data);
    default:
      return fail(COMPLETION.invalidCommand);
  }
}

// Activate Payload, §24.1: 0x80 when another session holds the payload.
function activatePayload(context: CommandContext, session: CommandSession, data: Uint8Array): CommandResult {
  if (data.length < 6) return fail(COMPLETION.requestLengthInvalid);
  if (data[0] !== 1) return fail(COMPLETION.invalidDataField);
  if ((data[1]! & 0x0f) !== 1) return fail(COMPLETION.invalidDataField);
  if (!session.solOwner) return fail(COMPLETION.invalidCommand);
  if (!context.sol.activate(session.solOwner)) return fail(0x80);
  const sizes = 0xff; // includes the 4-byte SOL header
  return ok(encodePayloadActivation({ inboundSize: sizes, outboundSize: sizes, port: context.port, vlan: 0xffff }));
}

function chassis(context: CommandContext, command: number, data: Uint8Array): CommandResult {
  const host = context.bmc.host;
  switch (command) {
    case 0x00: // Get Chassis Capabilities, §28.1: flags, FRU, SDR, SEL, system management device addresses
      return ok(Uint8Array.of(0x00, 0x20, 0x20, 0x20, 0x20));
    case CHASSIS_COMMAND.getStatus:
      return ok(encodeChassisStatus({ powerOn: host.poweredOn, restorePolicy: 'previous' }));
    case CHASSIS_COMMAND.control: {
      let control;
      try {
        control = decodeChassisControlRequest(data);
      } catch {
        return fail(COMPLETION.invalidDataField);
      }
      if (control === 'on') host.powerOn();
      else if (control === 'off') host.powerOff();
      else if (control === 'cycle') {
        if (!host.poweredOn) return fail(COMPLETION.notSupportedInState); // IPMI §28.3: no cycle from off
        host.powerCycle();
      } else if (control === 'reset') host.reset();
      else if (control === 'soft') host.softOff();
      return ok();
    }
    case CHASSIS_COMMAND.setBootOptions: {
      const parameter = (data[0] ?? 0) & 0x7f;
      if (parameter === BOOT_PARAMETER.bootFlags) {
        if (data.length < 6) return fail(COMPLETION.requestLengthInvalid);
        const flags = decodeBootFlags(data.subarray(1));
        host.setBootOverride({ device: flags.valid ? BOOT_DEVICES[flags.device] : 'none', persistent: flags.persistent, uefi: flags.efi });
      }
      return ok(); // set-in-progress, boot info acknowledge and others are accepted and ignored
    }
    case CHASSIS_COMMAND.getBootOptions: {
      const parameter = (data[0] ?? 0) & 0x7f;
      if (parameter === BOOT_PARAMETER.setInProgress) return ok(Uint8Array.of(0x01, parameter, 0x00));
      if (parameter === BOOT_PARAMETER.bootInfoAcknowledge) return ok(Uint8Array.of(0x01, parameter, 0x00, 0x00));
      if (parameter !== BOOT_PARAMETER.bootFlags) return fail(0x80); // parameter not supported
      const override = host.bootOverride;
      const device = (Object.entries(BOOT_DEVICES).find(([, value]) => value === override.device)?.[0] ?? 'none') as BootFlagsDevice;
      const flags = encodeBootFlags({ valid: override.device !== 'none', persistent: override.persistent, efi: override.uefi, device });
      return ok(Uint8Array.of(0x01, parameter, ...flags));
    }
    default:
      return fail(COMPLETION.invalidCommand);
  }
}

// Get System Info Parameters (IPMI v2.0 §22.14b): parameter 1, the system firmware version, in 16-byte sets.
function systemInfo(data: Uint8Array): CommandResult {
  let request;
  try {
    request = decodeGetSystemInfoRequest(data);
  } catch {
    return fail(COMPLETION.requestLengthInvalid);
  }
  if (request.parameter !== SYSTEM_INFO_PARAMETER.systemFirmwareVersion) return fail(PARAMETER_NOT_SUPPORTED);
  if (request.revisionOnly) return ok(Uint8Array.of(0x11));
  if (request.setSelector > 16) return fail(COMPLETION.parameterOutOfRange);
  return ok(encodeSystemInfoStringSet(BMCSIM_BIOS_VERSION, request.setSelector));
}

// FRU inventory device 0 (§34): the machine's identity (bmc/identity.ts), read by bytes.
function fru(context: CommandContext, command: number, data: Uint8Array): CommandResult {
  if (context.bmc.config.faults.noFru) return fail(COMPLETION.invalidCommand);
  let deviceId: number;
  try {
    deviceId = decodeFruDeviceRequest(data);
  } catch {
    return fail(COMPLETION.requestLengthInvalid);
  }
  if (deviceId !== 0) return fail(COMPLETION.notPresent);
  if (command === FRU_COMMAND.getInventoryAreaInfo) return ok(encodeFruInventoryAreaInfo({ size: BMCSIM_FRU_SIZE, byWords: false }));
  let read;
  try {
    read = decodeReadFruDataRequest(data);
  } catch {
    return fail(COMPLETION.requestLengthInvalid);
  }
  if (read.offset >= BMCSIM_FRU_SIZE) return fail(COMPLETION.parameterOutOfRange);
  // A response must fit the BMC's message buffer: more than 64 bytes is "cannot return that many" (0xCA), as on real BMCs.
  if (read.count > 64) return fail(COMPLETION.cannotReturnBytes);
  return ok(encodeReadFruData(bmcsimFru(context.bmc.config).subarray(read.offset, Math.min(BMCSIM_FRU_SIZE, read.offset + read.count))));
}

const SDR_COMMANDS: ReadonlySet<number> = new Set([SDR_COMMAND.getRepositoryInfo, SDR_COMMAND.reserveRepository, SDR_COMMAND.getSdr]);

function storage(context: CommandContext, command: number, data: Uint8Array): CommandResult {
  const log = context.bmc.eventLog;
  if (context.bmc.config.faults.noSdrRepository && SDR_COMMANDS.has(command)) return fail(COMPLETION.invalidCommand);
  if (command === FRU_COMMAND.getInventoryAreaInfo || command === FRU_COMMAND.readData) return fru(context, command, data);
  switch (command) {
    case SDR_COMMAND.getRepositoryInfo: {
      // | version 0x51 | count (2) | free (2) | last addition (4) | last erase (4) | support: reserve supported (bit 1) |
      const out = new Uint8Array(14);
      out[0] = 0x51;
      out[1] = sdrRepository().length;
      out[3] = 0x00;
      out[4] = 0x10;
      out[13] = 0x02;
      return ok(out);
    }
    case SDR_COMMAND.reserveRepository:
    case SEL_COMMAND.reserve:
      return ok(Uint8Array.of(0x01, 0x00));
    case SDR_COMMAND.getSdr: {
      if (data.length < 6) return fail(COMPLETION.requestLengthInvalid);
      const recordId = data[2]! | (data[3]! << 8);
      const index = recordId === 0 ? 0 : recordId - 1;
      const repository = sdrRepository();
      const record = repository[index];
      if (!record) return fail(COMPLETION.notPresent);
      const offset = data[4]!;
      const length = data[5] === 0xff ? record.length - offset : data[5]!;
      if (offset > record.length) return fail(COMPLETION.parameterOutOfRange);
      const next = index + 1 < repository.length ? index + 2 : 0xffff;
      return ok(Uint8Array.of(next & 0xff, next >> 8, ...record.subarray(offset, Math.min(record.length, offset + length))));
    }
    case SEL_COMMAND.getInfo:
      return ok(encodeSelInfo({ version: 0x51, entries: log.entries.length, freeSpace: (512 - log.entries.length) * 16, lastAddition: log.lastAddition, lastErase: log.lastErase, operationSupport: 0x02 }));
    case 0x41: // Get SEL Allocation Info, §31.3
      return ok(Uint8Array.of(0x00, 0x02, 0x10, 0x00, 0x00, 0x02, 0x00, 0x02, 0x01));
    case SEL_COMMAND.getEntry: {
      if (data.length < 6) return fail(COMPLETION.requestLengthInvalid);
      const requested = data[2]! | (data[3]! << 8);
      const entries = log.entries;
      if (entries.length === 0) return fail(COMPLETION.notPresent);
      const position = requested === 0 ? 0 : requested === 0xffff ? entries.length - 1 : entries.findIndex((entry) => entry.id === requested);
      if (position < 0) return fail(COMPLETION.notPresent);
      const next = position + 1 < entries.length ? entries[position + 1]!.id : 0xffff;
      const record = encodeSelRecord(entries[position]!);
      const offset = data[4]!;
      const length = data[5] === 0xff ? 16 - offset : data[5]!;
      return ok(Uint8Array.of(next & 0xff, next >> 8, ...record.subarray(offset, Math.min(16, offset + length))));
    }
    case SEL_COMMAND.clear: {
      if (data.length < 6 || data[2] !== 0x43 || data[3] !== 0x4c || data[4] !== 0x52) return fail(COMPLETION.invalidDataField);
      if (data[5] === 0xaa) log.clear();
      return ok(Uint8Array.of(0x01));
    }
    case SEL_GET_TIME: {
      const now = Math.floor(context.bmc.clock.now() / 1000);
      return ok(Uint8Array.of(now & 0xff, (now >>> 8) & 0xff, (now >>> 16) & 0xff, now >>> 24));
    }
    default:
      return fail(COMPLETION.invalidCommand);
  }
}

function sensor(context: CommandContext, command: number, data: Uint8Array): CommandResult {
  if (command === SENSOR_EVENT_PLATFORM_EVENT) return platformEvent(context, data);
  const definition = SENSORS.find((candidate) => candidate.number === data[0]);
  if (command !== SENSOR_GET_READING && command !== SENSOR_GET_THRESHOLDS) return fail(COMPLETION.invalidCommand);
  if (!definition) return fail(COMPLETION.notPresent);
  if (command === SENSOR_GET_THRESHOLDS) {
    // | readable mask (LC bit 1, UC bit 4) | LNC | LC | LNR | UNC | UC | UNR |
    return ok(Uint8Array.of(0x12, 0, rawReading(definition, definition.lowerCritical), 0, 0, rawReading(definition, definition.upperCritical), 0));
  }
  const host = context.bmc.host;
  const value = sensorReading(definition, context.bmc.clock.now(), host.poweredOn, context.bmc.config.seed);
  // Fans and rails that only exist while the host runs have no reading when it is off.
  const unavailable = !host.poweredOn && definition.nominalOff === 0;
  let state = 0;
  if (!unavailable && value >= definition.upperCritical) state |= 0x10 | 0x08;
  if (!unavailable && value <= definition.lowerCritical) state |= 0x02 | 0x01;
  return ok(encodeSensorReading({ raw: unavailable ? 0 : rawReading(definition, value), eventsEnabled: true, scanningEnabled: true, unavailable, state }));
}

// Platform Event Message, §29.3 table 29-4: | EvM rev 0x04 | sensor type | sensor number | event dir/type | event data 1–3 |,
// preceded by a generator ID when it comes through the system interface (8 bytes) rather than IPMB or LAN (7 bytes).
function platformEvent(context: CommandContext, data: Uint8Array): CommandResult {
  if (data.length !== 7 && data.length !== 8) return fail(COMPLETION.requestLengthInvalid);
  const fields = data.length === 8 ? data.subarray(1) : data;
  if (fields[0] !== 0x04) return fail(COMPLETION.invalidDataField);
  context.bmc.eventLog.addPlatformEvent({ sensorType: fields[1]!, sensorNumber: fields[2]!, eventDirType: fields[3]!, data: [fields[4]!, fields[5]!, fields[6]!] });
  return ok();
}

// SOL configuration parameters, §26.3 table 26-5. ipmitool reads them all before `sol activate`.
function transport(context: CommandContext, command: number, data: Uint8Array): CommandResult {
  if (command === TRANSPORT_SET_SOL_CONFIGURATION) return ok();
  if (command !== TRANSPORT_GET_SOL_CONFIGURATION) return fail(COMPLETION.invalidCommand);
  const revisionOnly = ((data[0] ?? 0) & 0x80) !== 0;
  const parameter = data[1] ?? 0;
  const values: Record<number, number[]> = {
    0: [0x00], // set complete
    1: [0x01], // SOL enabled
    2: [0x02], // authentication: USER privilege, encryption/authentication not forced
    3: [0x0c, 0x60], // character accumulate 60 ms, send threshold 96
    4: [0x07, 0x32], // 7 retries, 500 ms
    5: [0x0a], // non-volatile bit rate 115200
    6: [0x0a], // volatile bit rate 115200
    7: [0x01], // payload channel 1
    8: [context.port & 0xff, context.port >> 8], // payload port
  };
  const value = values[parameter];
  if (!value) return fail(0x80); // parameter not supported
  return ok(Uint8Array.of(0x11, ...(revisionOnly ? [] : value)));
}
