import type { RecordingMeta } from './storage.js';

/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then one `[seconds, "o", text]` line per output chunk.
 * Bytes are decoded as UTF-8 across chunk boundaries (a character split
 * between two chunks is emitted whole with the later one).
 */
export function toAsciicast(meta: RecordingMeta, bytes: Buffer, times: [number, number][]): string {
  const header = { version: 2, width: 80, height: 24, timestamp: Math.floor(meta.startedAt / 1000), title: `${meta.serverId} ${meta.kind} (${meta.user})`, env: { TERM: 'xterm-256color' } };
  const lines = [JSON.stringify(header)];
  const decoder = new TextDecoder('utf-8');
  for (const [index, [offset, timeMs]] of times.entries()) {
    const end = index + 1 < times.length ? times[index + 1]![0] : bytes.length;
    const text = decoder.decode(bytes.subarray(offset, end), { stream: true });
    if (text !== '') lines.push(JSON.stringify([Math.max(0, (timeMs - meta.startedAt) / 1000), 'o', text]));
  }
  const rest = decoder.decode();
  if (rest !== '') lines.push(JSON.stringify([Math.max(0, ((times.at(-1)?.[1] ?? meta.startedAt) - meta.startedAt) / 1000), 'o', rest]));
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
