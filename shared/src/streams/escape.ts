/**
 * The `~` escape of a console in a terminal (`lightsout console`, the SSH front door), as ssh and ipmitool do it: a `~`
 * right after a newline (or at the very start) is held; the next byte says
 * what to do. `~.` leave, `~B` send a serial break, `~?` help, `~~` one
 * literal `~`; any other byte sends the held `~` and itself unchanged.
 */
export type EscapeAction = 'leave' | 'break' | 'help';

export interface EscapeResult {
  /** Bytes to send to the console, in order. */
  forward: Uint8Array;
  actions: EscapeAction[];
}

const TILDE = 0x7e;
const NEWLINES = new Set([0x0d, 0x0a]);
const COMMANDS: Record<number, EscapeAction | undefined> = { 0x2e: 'leave', 0x42: 'break', 0x3f: 'help' };

export const ESCAPE_HELP = 'Supported escape sequences (after a newline):\r\n  ~.  leave the console\r\n  ~B  send a serial break\r\n  ~?  this help\r\n  ~~  send a single ~\r\n';

export class EscapeScanner {
  private atLineStart = true;
  private holdingTilde = false;

  /** Scan typed bytes. After a `leave`, the remaining bytes are dropped. */
  scan(input: Uint8Array): EscapeResult {
    const forward: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of input) {
      if (this.holdingTilde) {
        this.holdingTilde = false;
        const action = COMMANDS[byte];
        if (action !== undefined) {
          actions.push(action);
          // After a command we are still at the start of a line: `~B~.` works.
          this.atLineStart = true;
          if (action === 'leave') break;
          continue;
        }
        if (byte !== TILDE) forward.push(TILDE);
        forward.push(byte);
        this.atLineStart = NEWLINES.has(byte);
        continue;
      }
      if (byte === TILDE && this.atLineStart) {
        this.holdingTilde = true;
        continue;
      }
      forward.push(byte);
      this.atLineStart = NEWLINES.has(byte);
    }
    return { forward: Uint8Array.from(forward), actions };
  }
}
