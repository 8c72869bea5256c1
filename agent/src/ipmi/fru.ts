import { LightsoutError } from '@lightsout/shared';
import {
  BMC_FRU_DEVICE, COMPLETION, concatBytes, FRU_AREAS, FRU_AREA_PREAMBLE, FRU_HEADER_LENGTH, PARAMETER_NOT_SUPPORTED, SYSTEM_INFO_PARAMETER, SYSTEM_INFO_SET_BYTES, SYSTEM_INFO_FIRST_SET_BYTES,
  SYSTEM_INFO_STRING_MAX, decodeFruCommonHeader, decodeFruInventoryAreaInfo, decodeReadFruData, decodeSystemInfoStringSet, decodeSystemInfoStringStart, fruAreaLength,
  getFruInventoryAreaInfoRequest, getSystemInfoRequest, readFruDataRequest, systemInfoText, wireError, wireReasonOf, type FruAreaName, type FruInfo, type FruInventoryInfo,
} from '@lightsout/bmc-wire/ipmi';
import type { IpmiRequester } from './commands.js';
import { completionCodeOfError } from './session/core.js';

/** Bytes asked per Read FRU Data at first: fits every BMC's message buffer we know (ipmitool starts at 32 too). */
export const FRU_FIRST_CHUNK = 32;
const FRU_MIN_CHUNK = 8;
/** The most FRU bytes one identity read takes: header + three areas of at most 255 × 8 bytes each. */
export const FRU_READ_CAP = 8192;

/**
 * Completion codes by which a BMC says the read was too large for it (IPMI v2.0 §5.2: 0xC7 request data length
 * invalid, 0xC8 request data field length limit exceeded, 0xCA cannot return the number of bytes requested).
 * ipmitool shrinks its request by 8 bytes and retries on the same three.
 */
const TOO_LARGE: ReadonlySet<number> = new Set([COMPLETION.requestLengthInvalid, COMPLETION.requestTooLong, COMPLETION.cannotReturnBytes]);

/** One FRU device read in bounded chunks: the chunk shrinks when the BMC says it is too large, the total is capped. */
class FruDeviceReader {
  private chunk = FRU_FIRST_CHUNK;
  private budget: number;

  constructor(
    private readonly session: IpmiRequester,
    private readonly deviceId: number,
    readonly inventory: FruInventoryInfo,
    cap: number,
  ) {
    this.budget = cap;
  }

  get firstChunk(): number {
    return this.chunk;
  }

  /** Bytes [offset, offset + length) of the device; past the inventory size is BAD_OFFSET, past the cap BMC_PROTOCOL_ERROR. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset + length > this.inventory.size) throw wireError('BAD_OFFSET', `FRU read of ${length} bytes at ${offset} is past the ${this.inventory.size}-byte inventory`, { offset, length, size: this.inventory.size });
    // Word-accessed devices are addressed in 16-bit words: read whole words around the range.
    const unit = this.inventory.byWords ? 2 : 1;
    const start = offset - (offset % unit);
    const end = Math.min(this.inventory.size, offset + length + ((offset + length) % unit));
    const out = new Uint8Array(end - start);
    let got = 0;
    while (got < out.length) {
      const count = Math.min(this.chunk, out.length - got);
      if (count > this.budget) throw new LightsoutError('BMC_PROTOCOL_ERROR', `FRU device ${this.deviceId} needs more than the ${FRU_READ_CAP}-byte read cap`, { details: { offset: start + got } });
      let data: Uint8Array;
      try {
        data = decodeReadFruData(await this.session.request(readFruDataRequest(this.deviceId, (start + got) / unit, Math.ceil(count / unit))), this.inventory.byWords);
      } catch (error) {
        const completionCode = completionCodeOfError(error);
        if (completionCode !== undefined && TOO_LARGE.has(completionCode) && this.chunk > FRU_MIN_CHUNK) {
          this.chunk = Math.max(FRU_MIN_CHUNK, this.chunk - 8);
          continue;
        }
        throw error;
      }
      // A BMC may return fewer bytes than asked (never more than we keep); none at all would loop forever.
      if (data.length === 0) throw new LightsoutError('BMC_PROTOCOL_ERROR', `FRU device ${this.deviceId} returned no data at offset ${start + got}`);
      const kept = data.subarray(0, Math.min(data.length, out.length - got));
      out.set(kept, got);
      got += kept.length;
      this.budget -= data.length;
    }
    return out.subarray(offset - start, offset - start + length);
  }
}

/** An area that could not be read or decoded; the others are still used. */
export interface FruAreaFailure {
  area: FruAreaName | 'header';
  error: LightsoutError;
}

export interface FruReadResult {
  info: FruInfo;
  failures: FruAreaFailure[];
}

/**
 * Reads FRU device `deviceId` of the BMC (IPMI v2.0 §34): the inventory size, the common header, then only the
 * chassis, board and product areas it points to, each in chunks. A damaged area is a failure beside the others;
 * a BMC without FRU (any completion code on the first command), a blank or damaged header throw. Transport
 * failures always throw.
 */
export async function readFru(session: IpmiRequester, deviceId = BMC_FRU_DEVICE, cap = FRU_READ_CAP): Promise<FruReadResult> {
  const inventory = decodeFruInventoryAreaInfo(await session.request(getFruInventoryAreaInfoRequest(deviceId)));
  if (inventory.size < FRU_HEADER_LENGTH) throw wireError('TRUNCATED', `FRU device ${deviceId} has ${inventory.size} bytes, less than its header`, { have: inventory.size, need: FRU_HEADER_LENGTH });
  const reader = new FruDeviceReader(session, deviceId, inventory, cap);
  const header = decodeFruCommonHeader(await reader.read(0, FRU_HEADER_LENGTH));
  const info: FruInfo = {};
  const failures: FruAreaFailure[] = [];
  for (const { name, decode } of FRU_AREAS) {
    const offset = header[name];
    if (offset === undefined) continue;
    try {
      const what = `FRU ${name} info area`;
      if (offset + FRU_AREA_PREAMBLE > inventory.size) throw wireError('BAD_OFFSET', `${what} at ${offset} is past the ${inventory.size}-byte inventory`, { offset, size: inventory.size });
      // The first chunk carries the area's length; most areas fit in it, so one read each.
      const first = await reader.read(offset, Math.min(reader.firstChunk, inventory.size - offset));
      const length = fruAreaLength(first, what);
      if (offset + length > inventory.size) throw wireError('TRUNCATED', `${what} of ${length} bytes at ${offset} runs past the ${inventory.size}-byte inventory`, { have: inventory.size - offset, need: length });
      const area = length <= first.length ? first.subarray(0, length) : concatBytes(first, await reader.read(offset + first.length, length - first.length));
      (info as Record<FruAreaName, unknown>)[name] = decode(area);
    } catch (error) {
      if (!isFruDataProblem(error)) throw error;
      failures.push({ area: name, error });
    }
  }
  return { info, failures };
}

const DATA_PROBLEM_CODES: ReadonlySet<string> = new Set(['MALFORMED_MESSAGE', 'BMC_UNSUPPORTED', 'BMC_PROTOCOL_ERROR']);

/** Malformed FRU data or a BMC refusal (completion code), as opposed to a session or transport failure. */
export function isFruDataProblem(error: unknown): error is LightsoutError {
  return error instanceof LightsoutError && (completionCodeOfError(error) !== undefined || (DATA_PROBLEM_CODES.has(error.code) && (wireReasonOf(error) !== undefined || error.code === 'BMC_PROTOCOL_ERROR')));
}

/** Completion codes by which a BMC says it does not keep the system firmware version. */
const NO_SYSTEM_INFO: ReadonlySet<number> = new Set([COMPLETION.invalidCommand, PARAMETER_NOT_SUPPORTED]);

/**
 * The system firmware (BIOS/UEFI) version from Get System Info Parameters parameter 1 (IPMI v2.0 §22.14b):
 * set 0 then as many 16-byte sets as its length needs. undefined when the BMC does not keep it (0xC1, 0x80)
 * or the host firmware never set it (length 0); `onRefusal` hears any other completion code or malformed answer.
 */
export async function systemFirmwareVersion(session: IpmiRequester, onRefusal?: (error: LightsoutError) => void): Promise<string | undefined> {
  try {
    const start = decodeSystemInfoStringStart(await session.request(getSystemInfoRequest(SYSTEM_INFO_PARAMETER.systemFirmwareVersion, 0)));
    const length = Math.min(start.length, SYSTEM_INFO_STRING_MAX);
    const parts = [start.bytes];
    let have = start.bytes.length;
    const lastSet = Math.ceil((SYSTEM_INFO_STRING_MAX - SYSTEM_INFO_FIRST_SET_BYTES) / SYSTEM_INFO_SET_BYTES);
    for (let set = 1; have < length && set <= lastSet; set++) {
      const bytes = decodeSystemInfoStringSet(await session.request(getSystemInfoRequest(SYSTEM_INFO_PARAMETER.systemFirmwareVersion, set)), set);
      parts.push(bytes);
      have += bytes.length;
    }
    const text = systemInfoText(start.encoding, concatBytes(...parts).subarray(0, length));
    return text === '' ? undefined : text;
  } catch (error) {
    if (!isFruDataProblem(error)) throw error;
    const completionCode = completionCodeOfError(error);
    if (completionCode === undefined || !NO_SYSTEM_INFO.has(completionCode)) onRefusal?.(error);
    return undefined;
  }
}

