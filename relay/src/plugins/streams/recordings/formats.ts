import type { RecordingMeta } from './storage.js';

/** What one part of a rendered download holds at most (plus one line or chunk): the response streams part by part. */
const PART_BYTES = 64 * 1024;

/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
 * header line, then one `[seconds, "o", text]` line per output chunk.
 * Bytes are decoded as UTF-8 across chunk boundaries (a character split
 * between two chunks is emitted whole with the later one).
 *
 * Yielded in parts of about 64 KiB, as a response body reads them: the text
 * is up to six times the bytes (a control byte is `\u0001`), and a recording
 * of 1 GiB rendered whole would not fit in one string.
 */
export function* asciicastParts(meta: RecordingMeta, bytes: Uint8Array, times: readonly [number, number][]): Generator<string> {
  const header = { version: 2, width: 80, height: 24, timestamp: Math.floor(meta.startedAt / 1000), title: `${meta.serverId} ${meta.kind} (${meta.user})`, env: { TERM: 'xterm-256color' } };
  let part = `${JSON.stringify(header)}\n`;
  const decoder = new TextDecoder('utf-8');
  const line = (timeMs: number, text: string) => `${JSON.stringify([Math.max(0, (timeMs - meta.startedAt) / 1000), 'o', text])}\n`;
  for (const [index, [offset, timeMs]] of times.entries()) {
    const end = index + 1 < times.length ? times[index + 1]![0] : bytes.length;
    const text = decoder.decode(bytes.subarray(offset, end), { stream: true });
    if (text === '') continue;
    part += line(timeMs, text);
    if (part.length >= PART_BYTES) {
      yield part;
      part = '';
    }
  }
  const rest = decoder.decode();
  if (rest !== '') part += line(times.at(-1)?.[1] ?? meta.startedAt, rest);
  if (part !== '') yield part;
}

// RFB capture: what the web console replays. Layout, big-endian, repeated:
// | milliseconds since start (u32) | length (u32) | server→client RFB bytes (length) |
export function* rfbCaptureParts(meta: RecordingMeta, bytes: Uint8Array, times: readonly [number, number][]): Generator<Buffer> {
  let pieces: Uint8Array[] = [];
  let length = 0;
  for (const [index, [offset, timeMs]] of times.entries()) {
    const end = index + 1 < times.length ? times[index + 1]![0] : bytes.length;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(Math.max(0, Math.min(0xffffffff, timeMs - meta.startedAt)), 0);
    header.writeUInt32BE(end - offset, 4);
    pieces.push(header, bytes.subarray(offset, end));
    length += 8 + end - offset;
    if (length >= PART_BYTES) {
      yield Buffer.concat(pieces, length);
      pieces = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(pieces, length);
}

/**
 * Bytes of recordings held in memory by downloads at once (each is read
 * whole, then rendered as the response drains): past it a download is
 * refused for a moment (RATE_LIMITED) rather than every console sharing the
 * process paying for it. One download always fits when none is held.
 */
export class DownloadBudget {
  private held = 0;

  constructor(readonly maxBytes: number) {}

  /** What releases the bytes taken (once, however often it is called); undefined when they do not fit now. */
  take(bytes: number): (() => void) | undefined {
    if (this.held > 0 && this.held + bytes > this.maxBytes) return undefined;
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }
}
