import { setTimeout as delay } from 'node:timers/promises';
import { LightsoutError, type BootOverride, type BootRequest, type PowerAction, type PowerState, type SelEntry, type Sensor, type SensorThresholds } from '@lightsout/shared';
import {
  BOOT_PARAMETER, FIRST_RECORD, LAST_RECORD, chassisControlRequest, clearSelRequest, convertReading, decodeBootFlags, decodeBootOptionResponse, decodeChassisStatus,
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

/** 0xC5 answers in a row that one request (a Clear SEL, a piece of an SDR record) may get before the BMC is taken to be refusing it. */
const MAX_RESERVATION_RETRIES = 3;
/** Get SDR bytes asked per piece at first: small enough for every BMC's message buffer (ipmitool uses the same default). */
const SDR_FIRST_PIECE = 16;
/** A 0xCA on a piece this small leaves nothing smaller to ask. */
const SDR_MIN_PIECE = 1;
/** Answers in a row without a single record byte that one piece may get; asking again for ever would never end the walk. */
const SDR_MAX_EMPTY_READS = 3;
/** Get SDR carries the offset in one byte (§33.12): bytes past it cannot be asked for. */
const SDR_MAX_OFFSET = 0xff;

/**
 * Reads SDR records in pieces (Get SDR, §33.12) under a reservation from Reserve SDR Repository (§33.11),
 * surviving what BMCs answer on the way, as ipmitool's ipmi_sdr_get_record does: a reservation cancelled
 * at any offset (0xC5: the repository changed, or another client reserved) is taken again and the same
 * piece asked again; 0xCA (cannot return that many bytes) halves the piece for the rest of the walk; a
 * short answer is kept and the next piece starts where it ends. Each of them is bounded per piece.
 */
class SdrReader {
  private reservation = 0;
  private piece = SDR_FIRST_PIECE;

  constructor(private readonly session: IpmiRequester) {}

  async reserve(): Promise<void> {
    this.reservation = decodeReservation(await this.session.request(reserveSdrRepositoryRequest()));
  }

  /** One whole record, header and body, and the ID of the record after it. */
  async record(recordId: number): Promise<{ nextRecordId: number; bytes: Uint8Array }> {
    // The header's length byte says how much follows; until it is read, only the header is asked for.
    const bytes = new Uint8Array(SDR_HEADER_LENGTH + 0xff);
    let total = SDR_HEADER_LENGTH;
    let headerRead = false;
    let got = 0;
    let nextRecordId: number | undefined;
    let cancelled = 0;
    let empty = 0;
    while (got < total) {
      const where = { recordId, offset: got };
      if (got > SDR_MAX_OFFSET) throw new LightsoutError('BMC_PROTOCOL_ERROR', `SDR record 0x${hex16(recordId)} goes on past offset ${SDR_MAX_OFFSET}, which Get SDR cannot ask for`, { details: where });
      const length = Math.min(this.piece, total - got);
      let answer;
      try {
        answer = decodeGetSdr(await this.session.request(getSdrRequest(this.reservation, recordId, got, length)));
      } catch (error) {
        const completionCode = completionCodeOfError(error);
        if (completionCode === COMPLETION.reservationCancelled) {
          if (++cancelled >= MAX_RESERVATION_RETRIES) {
            throw new LightsoutError('BMC_BUSY', `the SDR reservation was cancelled ${cancelled} times in a row reading record 0x${hex16(recordId)} at offset ${got}: the repository keeps changing or another client keeps reserving it`, { details: { completionCode, ...where } });
          }
          await this.reserve();
          continue;
        }
        if (completionCode === COMPLETION.cannotReturnBytes) {
          if (length <= SDR_MIN_PIECE) throw new LightsoutError('BMC_PROTOCOL_ERROR', `the BMC cannot return even a ${length}-byte piece of SDR record 0x${hex16(recordId)} at offset ${got} (0xCA)`, { details: { completionCode, ...where } });
          this.piece = Math.max(SDR_MIN_PIECE, Math.floor(length / 2));
          continue;
        }
        throw error;
      }
      nextRecordId ??= answer.nextRecordId;
      // Bytes past those asked for belong to nobody we know of: only those asked are kept.
      const kept = answer.bytes.subarray(0, length);
      if (kept.length === 0) {
        if (++empty >= SDR_MAX_EMPTY_READS) throw new LightsoutError('BMC_PROTOCOL_ERROR', `the BMC answered ${empty} Get SDR requests in a row for record 0x${hex16(recordId)} at offset ${got} with no record bytes`, { details: where });
        continue;
      }
      bytes.set(kept, got);
      got += kept.length;
      cancelled = 0;
      empty = 0;
      if (!headerRead && got >= SDR_HEADER_LENGTH) {
        headerRead = true;
        total += decodeSdrHeader(bytes).length;
      }
    }
    return { nextRecordId: nextRecordId ?? LAST_RECORD, bytes: bytes.slice(0, total) };
  }
}

const hex16 = (value: number) => value.toString(16).padStart(4, '0');

/** Reads every SDR record (§33.12), in pieces (SdrReader); at most `maxRecords` of them. */
export async function sdrRecords(session: IpmiRequester, maxRecords = 1024): Promise<SdrRecord[]> {
  const reader = new SdrReader(session);
  await reader.reserve();
  const records: SdrRecord[] = [];
  let recordId = FIRST_RECORD;
  for (let count = 0; count < maxRecords && recordId !== LAST_RECORD; count++) {
    const { nextRecordId, bytes } = await reader.record(recordId);
    records.push(decodeSdrRecord(bytes));
    if (nextRecordId === recordId) break;
    recordId = nextRecordId;
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

