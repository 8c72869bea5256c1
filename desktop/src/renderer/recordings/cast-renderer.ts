import { type Asciicast, CastCursor } from './asciicast.js';

/** The part of xterm.js the cast player drives. */
export interface CastTerminal {
  write(data: string): void;
}

/**
 * RIS, "reset to initial state" (ECMA-48 8.3.105; xterm.js clears the
 * screen and the scrollback on it). Sent in the data rather than calling
 * Terminal.reset(): xterm.js parses writes later, and reset() leaves the
 * queued writes in place, so frames queued before a seek would land on top
 * of the re-rendered screen (the duplicated output of seeking while playing).
 */
const RESET = '\x1bc';

/** Plays an asciicast into a terminal: forward frames append, a seek re-renders from the start. */
export class CastRenderer {
  private readonly cursor: CastCursor;

  constructor(
    cast: Asciicast,
    private readonly terminal: CastTerminal,
  ) {
    this.cursor = new CastCursor(cast);
  }

  /** Show the recording at `seconds`; `jumped` when this is a seek rather than the next frame. */
  render(seconds: number, jumped: boolean): void {
    if (jumped) {
      this.terminal.write(RESET + this.cursor.seek(seconds));
      return;
    }
    const text = this.cursor.advanceTo(seconds);
    if (text) this.terminal.write(text);
  }
}
