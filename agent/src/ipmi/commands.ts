import { setTimeout as delay } from 'node:timers/promises';
import { LightsoutError, type BootOverride, type BootRequest, type PowerAction, type PowerState, type SelEntry, type Sensor, type SensorThresholds } from '@lightsout/shared';
import {
  BOOT_PARAMETER, FIRST_RECORD, concatBytes, LAST_RECORD, chassisControlRequest, clearSelRequest, convertReading, decodeBootFlags, decodeBootOptionResponse, decodeChassisStatus,
  decodeClearSel, decodeDeviceId, decodeGetSdr, decodeGetSelEntry, decodeReservation, decodeSdrHeader, decodeSdrRecord, decodeSelInfo, decodeSelRecord, decodeSensorReading,
  encodeBootFlags, getBootOptionRequest, getChassisStatusRequest, getDeviceIdRequest, getSdrRequest, getSelEntryRequest, getSelInfoRequest, getSensorReadingRequest,
  reserveSdrRepositoryRequest, reserveSelRequest, sensorKind, setBootOptionRequest, thresholdStatus, COMPLETION, SDR_HEADER_LENGTH,
  type ChassisControl, type Conversion, type DeviceId, type SdrRecord, type CommandRequest,
} from '@lightsout/bmc-wire/ipmi';
import { completionCodeOfError } from './session/core.js';

/** What the commands need from a session: one request/response at a time. */
export interface IpmiRequester {
  request(command: CommandRequest): Promise<Uint8Array>;
}

export async function deviceId(session: IpmiRequester): Promise<DeviceId> {
  return decodeDeviceId(await session.request(getDeviceIdRequest()));
}

export async function powerState(session: IpmiRequester): Promise<PowerState> {
  return decodeChassisStatus(await session.request(getChassisStatusRequest())).powerOn ? 'on' : 'off';
}

const CONTROL_OF: Record<PowerAction, ChassisControl> = { on: 'on', off: 'off', cycle: 'cycle', reset: 'reset', soft: 'soft' };

export async function chassisControl(session: IpmiRequester, action: PowerAction): Promise<void> {
  await session.request(chassisControlRequest(CONTROL_OF[action]));
}

/** Boot flags (parameter 5), §28.13. A flag the BMC marks invalid reads as "no override". */
export async function bootOverride(session: IpmiRequester): Promise<BootOverride> {
  const response = decodeBootOptionResponse(await session.request(getBootOptionRequest(BOOT_PARAMETER.bootFlags)));
  const flags = decodeBootFlags(response.data);
  if (!flags.valid) return { device: 'none', persistent: false, uefi: false };
  const device = flags.device === 'pxe' || flags.device === 'disk' || flags.device === 'cd' || flags.device === 'bios' ? flags.device : flags.device === 'disk-safe' ? 'disk' : 'none';
  return { device, persistent: flags.persistent, uefi: flags.efi };
}

/**
 * Sets the boot override the way §28.12 recommends: set-in-progress, clear the
 * BIOS acknowledge bits, write boot flags, commit-write, set-complete (§28.13
 * parameter 0: 1, then 2, then 0; ipmitool's chassis bootdev does the same).
 * BMCs that refuse set-in-progress or commit-write (many do: 0x80 parameter
 * not supported, 0xCC) are tolerated: they apply the flags as written.
 */
/** Set In Progress (boot option parameter 0) values, §28.13 table 28-14: data bits 1:0. */
const SET_IN_PROGRESS = { setComplete: 0, setInProgress: 1, commitWrite: 2 } as const;

export async function setBootOverride(session: IpmiRequester, override: BootRequest): Promise<void> {
  const tolerant = async (command: CommandRequest) => {
    try {
      await session.request(command);
    } catch (error) {
      const completionCode = completionCodeOfError(error);
      if (completionCode === undefined || completionCode === COMPLETION.invalidCommand) throw error;
    }
  };
  await tolerant(setBootOptionRequest(BOOT_PARAMETER.setInProgress, Uint8Array.of(SET_IN_PROGRESS.setInProgress)));
  await tolerant(setBootOptionRequest(BOOT_PARAMETER.bootInfoAcknowledge, Uint8Array.of(0x01, 0x01)));
  const none = override.device === 'none';
  // No mode asked: keep the BIOS boot type bit the BMC has (§28.13 parameter 5, data 1 bit 5).
  const efi = override.uefi ?? decodeBootFlags(decodeBootOptionResponse(await session.request(getBootOptionRequest(BOOT_PARAMETER.bootFlags))).data).efi;
  await session.request(setBootOptionRequest(BOOT_PARAMETER.bootFlags, encodeBootFlags({ valid: !none, persistent: override.persistent === true, efi, device: override.device })));
  await tolerant(setBootOptionRequest(BOOT_PARAMETER.setInProgress, Uint8Array.of(SET_IN_PROGRESS.commitWrite)));
  await tolerant(setBootOptionRequest(BOOT_PARAMETER.setInProgress, Uint8Array.of(SET_IN_PROGRESS.setComplete)));
}

/** Reads every SDR record (§33.12), in pieces when the BMC cannot return a whole record at once. */
export async function sdrRecords(session: IpmiRequester, maxRecords = 1024): Promise<SdrRecord[]> {
  const records: SdrRecord[] = [];
  let reservation = decodeReservation(await session.request(reserveSdrRepositoryRequest()));
  let recordId = FIRST_RECORD;
  for (let count = 0; count < maxRecords && recordId !== LAST_RECORD; count++) {
    let header;
    let next: number;
    try {
      ({ nextRecordId: next, bytes: header } = decodeGetSdr(await session.request(getSdrRequest(reservation, recordId, 0, SDR_HEADER_LENGTH))));
    } catch (error) {
      if (completionCodeOfError(error) !== COMPLETION.reservationCancelled) throw error;
      reservation = decodeReservation(await session.request(reserveSdrRepositoryRequest()));
      count--;
      continue;
    }
    const { length } = decodeSdrHeader(header);
    const body: Uint8Array[] = [header.subarray(0, SDR_HEADER_LENGTH)];
    // 16-byte pieces: small enough for every BMC's message buffer (ipmitool uses the same default).
    for (let offset = 0; offset < length; offset += 16) {
      const piece = Math.min(16, length - offset);
      const { bytes } = decodeGetSdr(await session.request(getSdrRequest(reservation, recordId, SDR_HEADER_LENGTH + offset, piece)));
      body.push(bytes.subarray(0, piece));
    }
    records.push(decodeSdrRecord(concatBytes(...body)));
    if (next === recordId) break;
    recordId = next;
  }
  return records;
}

/** Threshold and discrete sensors with readings, converted for full records (§35.14, §36.3); the SDR walked unless given. */
export async function sensorList(session: IpmiRequester, records?: readonly SdrRecord[]): Promise<Sensor[]> {
  const sensors: Sensor[] = [];
  for (const record of records ?? (await sdrRecords(session))) {
    if (record.kind !== 'full' && record.kind !== 'compact') continue;
    let reading;
    try {
      reading = decodeSensorReading(await session.request(getSensorReadingRequest(record.sensorNumber)));
    } catch (error) {
      if (completionCodeOfError(error) === undefined) throw error;
      sensors.push({ name: record.name, type: sensorKind(record.sensorType, record.unit), value: null, unit: record.unit, status: 'unknown' });
      continue;
    }
    const threshold = record.eventReadingType === 0x01;
    const value = record.kind === 'full' && threshold && !reading.unavailable ? convertReading(reading.raw, record.conversion) : null;
    const thresholds = record.kind === 'full' && threshold ? convertThresholds(record.thresholdsRaw, record.conversion) : undefined;
    sensors.push({
      name: record.name,
      type: sensorKind(record.sensorType, record.unit),
      value,
      unit: record.kind === 'full' && threshold ? record.unit : 'discrete',
      status: reading.unavailable ? 'unknown' : threshold ? thresholdStatus(reading.state) : 'ok',
      ...(thresholds ? { thresholds } : {}),
    });
  }
  return sensors;
}

/** A full record's readable thresholds in the sensor's unit (§36.3, the reading's conversion); undefined when it has none. */
function convertThresholds(raw: Partial<Record<string, number>>, conversion: Conversion): SensorThresholds | undefined {
  const thresholds: SensorThresholds = {};
  for (const [name, value] of Object.entries(raw)) {
    const converted = value === undefined ? null : convertReading(value, conversion);
    if (converted !== null) thresholds[name as keyof SensorThresholds] = converted;
  }
  return Object.keys(thresholds).length > 0 ? thresholds : undefined;
}

/** Every SEL entry (§31.5), oldest first, with the SDR sensor name when one matches. */
export async function selEntries(session: IpmiRequester, names?: ReadonlyMap<number, string>, maxEntries = 4096): Promise<SelEntry[]> {
  const info = decodeSelInfo(await session.request(getSelInfoRequest()));
  if (info.entries === 0) return [];
  const entries: SelEntry[] = [];
  let recordId = FIRST_RECORD;
  for (let count = 0; count < maxEntries && recordId !== LAST_RECORD; count++) {
    const { nextRecordId, record } = decodeGetSelEntry(await session.request(getSelEntryRequest(0, recordId)));
    const decoded = decodeSelRecord(record);
    const sensorName = names?.get(decoded.sensorNumber);
    entries.push({ id: decoded.id, time: decoded.time, sensor: sensorName ?? `${decoded.sensor} #${decoded.sensorNumber}`, event: decoded.event, direction: decoded.direction, raw: decoded.raw });
    if (nextRecordId === recordId) break;
    recordId = nextRecordId;
  }
  return entries;
}

export interface ClearSelOptions {
  /** Pause between erasure status reads. */
  pollIntervalMs?: number;
  /** How long the erase may take before the clear is reported as not confirmed. */
  timeoutMs?: number;
}

/** A SEL erase takes seconds on some BMCs (flash); half a minute is beyond any we know of. */
const CLEAR_SEL_DEFAULTS = { pollIntervalMs: 500, timeoutMs: 30_000 } as const;
/** 0xC5 answers in a row that one Clear SEL request may get before the BMC is taken to be refusing it. */
const MAX_RESERVATION_RETRIES = 3;

/**
 * Clears the SEL (§31.9): initiate the erase, then read the erasure status, pausing between reads,
 * until the BMC reports it complete. Resolves only when it was seen complete; otherwise BMC_TIMEOUT.
 * Every request carries a reservation taken just before it: starting the erase cancels the
 * reservations (OpenBMC does; FreeIPMI reserves again before each status read for that reason).
 */
export async function clearSel(session: IpmiRequester, options: ClearSelOptions = {}): Promise<void> {
  const { pollIntervalMs, timeoutMs } = { ...CLEAR_SEL_DEFAULTS, ...options };
  const deadline = Date.now() + timeoutMs;
  const clear = async (initiate: boolean): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      const reservation = decodeReservation(await session.request(reserveSelRequest()));
      try {
        return decodeClearSel(await session.request(clearSelRequest(reservation, initiate))).completed;
      } catch (error) {
        // Cancelled between our reserve and our request (another SEL writer): reserve again.
        if (completionCodeOfError(error) !== COMPLETION.reservationCancelled || attempt + 1 >= MAX_RESERVATION_RETRIES) throw error;
      }
    }
  };
  if (await clear(true)) return;
  while (Date.now() < deadline) {
    await delay(pollIntervalMs);
    if (await clear(false)) return;
  }
  throw new LightsoutError('BMC_TIMEOUT', `the BMC did not report the SEL erase complete within ${timeoutMs / 1000} s; the SEL may not be cleared`, { details: { timeoutMs } });
}

export function sensorNames(records: readonly SdrRecord[]): Map<number, string> {
  const names = new Map<number, string>();
  for (const record of records) if (record.kind === 'full' || record.kind === 'compact' || record.kind === 'event-only') names.set(record.sensorNumber, record.name);
  return names;
}

