import { LightsoutError } from '@lightsout/shared';

/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/), as the
 * relay renders SOL/serial recordings: a JSON header line
 * `{"version": 2, "width": W, "height": H, …}`, then one event per line,
 * `[seconds, "o", text]`. Only output events are played; input ("i"),
 * markers ("m") and resizes ("r") are skipped.
 */
export interface Asciicast {
  width: number;
  height: number;
  title: string | null;
  /** Output events in time order; `time` in seconds from the start. */
  events: { time: number; text: string }[];
  duration: number;
}

/** Recordings bigger than this are refused rather than frozen in the page. */
const MAX_EVENTS = 2_000_000;

export function parseAsciicast(source: string): Asciicast {
  const lines = source.split('\n');
  let header: { version?: unknown; width?: unknown; height?: unknown; title?: unknown };
  try {
    header = JSON.parse(lines[0] ?? '') as typeof header;
  } catch {
    throw new LightsoutError('BAD_REQUEST', 'not an asciicast recording: the first line is not a JSON header');
  }
  if (header.version !== 2) throw new LightsoutError('BAD_REQUEST', `unsupported asciicast version ${String(header.version)}`);
  const width = typeof header.width === 'number' && header.width > 0 ? Math.min(header.width, 1000) : 80;
  const height = typeof header.height === 'number' && header.height > 0 ? Math.min(header.height, 500) : 24;
  const events: Asciicast['events'] = [];
  let last = 0;
  for (let index = 1; index < lines.length; index += 1) {
    const line = lines[index]!;
    if (line.trim() === '') continue;
    if (events.length >= MAX_EVENTS) throw new LightsoutError('PAYLOAD_TOO_LARGE', `recording has more than ${MAX_EVENTS} events`);
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw new LightsoutError('BAD_REQUEST', `asciicast line ${index + 1} is not JSON`);
    }
    if (!Array.isArray(event) || typeof event[0] !== 'number' || typeof event[1] !== 'string' || typeof event[2] !== 'string') {
      throw new LightsoutError('BAD_REQUEST', `asciicast line ${index + 1} is not [time, code, data]`);
    }
    if (event[1] !== 'o') continue;
    // Times never go backwards in a valid file; clamp so a sloppy writer still plays in order.
    last = Math.max(last, event[0]);
    events.push({ time: last, text: event[2] });
  }
  return { width, height, title: typeof header.title === 'string' ? header.title : null, events, duration: last };
}

/**
 * Where playback is: how many events have been written to the terminal.
 * Playing forward writes only the events since the last tick; seeking
 * re-renders from the start (the terminal is reset and gets everything up to
 * the target in one write — fast, xterm parses megabytes per second).
 */
export class CastCursor {
  private written = 0;

  constructor(private readonly cast: Asciicast) {}

  /** Events written so far. */
  get position(): number {
    return this.written;
  }

  /** Number of events with time ≤ `seconds` (binary search). */
  countUpTo(seconds: number): number {
    const { events } = this.cast;
    let low = 0;
    let high = events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (events[middle]!.time <= seconds) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Text to write to move forward to `seconds` (empty when nothing new is due). */
  advanceTo(seconds: number): string {
    const target = this.countUpTo(seconds);
    if (target <= this.written) return '';
    const text = this.cast.events.slice(this.written, target).map((event) => event.text).join('');
    this.written = target;
    return text;
  }

  /** The whole screen content up to `seconds`, to write after a terminal reset. */
  seek(seconds: number): string {
    this.written = 0;
    return this.advanceTo(seconds);
  }
}
