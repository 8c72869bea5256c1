import { LightsoutError } from '@lightsout/shared';

// RFB capture, as the relay renders VNC recordings (relay/src/plugins/streams/recordings/formats.ts).
// Big-endian records, repeated to the end of the file:
// | milliseconds since start (u32) | length (u32) | server→client RFB bytes (length) |
// The bytes are the RFB stream from the ProtocolVersion on (RFC 6143 §7.1), with
// security None as the agent offered it, so any RFB client can replay them.
export interface RfbRecord {
  timeMs: number;
  bytes: Uint8Array;
}

/** One record is at most this long (the relay writes chunks as they came off a socket). */
const MAX_RECORD = 64 * 1024 * 1024;

export function parseRfbCapture(data: Uint8Array): RfbRecord[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const records: RfbRecord[] = [];
  let at = 0;
  let last = 0;
  while (at < data.length) {
    if (at + 8 > data.length) throw new LightsoutError('BAD_REQUEST', `RFB capture truncated in a record header at byte ${at}`);
    const timeMs = view.getUint32(at);
    const length = view.getUint32(at + 4);
    if (length > MAX_RECORD) throw new LightsoutError('PAYLOAD_TOO_LARGE', `RFB capture record of ${length} bytes`);
    if (at + 8 + length > data.length) throw new LightsoutError('BAD_REQUEST', `RFB capture truncated in a record at byte ${at}`);
    last = Math.max(last, timeMs);
    records.push({ timeMs: last, bytes: data.subarray(at + 8, at + 8 + length) });
    at += 8 + length;
  }
  return records;
}

/** Number of records with time ≤ `timeMs` (binary search): the ones to fast-forward through on a seek. */
export function recordsUpTo(records: readonly RfbRecord[], timeMs: number): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (records[middle]!.timeMs <= timeMs) low = middle + 1;
    else high = middle;
  }
  return low;
}
