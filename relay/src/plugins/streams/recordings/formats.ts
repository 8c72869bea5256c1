import { constants } from 'node:buffer';
import { LightsoutError } from '@lightsout/shared';
import type { RecordingMeta } from './storage.js';

/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then one `[seconds, "o", text]` line per output chunk.
 * Bytes are decoded as UTF-8 across chunk boundaries (a character split
 * between two chunks is emitted whole with the later one).
 *
 * The text is longer than the bytes (a control byte is six characters,
 * `\u0001`), so it is capped at `maxLength` characters, by default what one
 * string holds: past it the refusal is PAYLOAD_TOO_LARGE, not a RangeError.
 */
export function toAsciicast(meta: RecordingMeta, bytes: Buffer, times: [number, number][], maxLength: number = constants.MAX_STRING_LENGTH): string {
  const header = { version: 2, width: 80, height: 24, timestamp: Math.floor(meta.startedAt / 1000), title: `${meta.serverId} ${meta.kind} (${meta.user})`, env: { TERM: 'xterm-256color' } };
  const lines: string[] = [];
  let length = 0;
  const push = (line: string) => {
    // Each line and its newline.
    length += line.length + 1;
    if (length > maxLength) {
      throw new LightsoutError('PAYLOAD_TOO_LARGE', `recording ${meta.id} renders to more than ${maxLength} characters of asciicast`, { hint: 'its raw bytes are in the relay\'s recording storage' });
    }
    lines.push(line);
  };
  push(JSON.stringify(header));
  const decoder = new TextDecoder('utf-8');
  for (const [index, [offset, timeMs]] of times.entries()) {
    const end = index + 1 < times.length ? times[index + 1]![0] : bytes.length;
    const text = decoder.decode(bytes.subarray(offset, end), { stream: true });
    if (text !== '') push(JSON.stringify([Math.max(0, (timeMs - meta.startedAt) / 1000), 'o', text]));
  }
  const rest = decoder.decode();
  if (rest !== '') push(JSON.stringify([Math.max(0, ((times.at(-1)?.[1] ?? meta.startedAt) - meta.startedAt) / 1000), 'o', rest]));
  return `${lines.join('\n')}\n`;
}

// RFB capture: what the web console replays. Layout, big-endian, repeated:
// | milliseconds since start (u32) | length (u32) | server→client RFB bytes (length) |
export function toRfbCapture(meta: RecordingMeta, bytes: Buffer, times: [number, number][]): Buffer {
  const parts: Buffer[] = [];
  for (const [index, [offset, timeMs]] of times.entries()) {
    const end = index + 1 < times.length ? times[index + 1]![0] : bytes.length;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(Math.max(0, Math.min(0xffffffff, timeMs - meta.startedAt)), 0);
    header.writeUInt32BE(end - offset, 4);
    parts.push(header, bytes.subarray(offset, end));
  }
  return Buffer.concat(parts);
}
