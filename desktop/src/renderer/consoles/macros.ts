import { LightsoutError } from '@lightsout/shared';
import { functionKey, Keysym } from './keysyms.js';

/**
 * Key macros: a sequence of text, named keys and waits that a technician
 * defines once (e.g. to walk a BIOS menu: `{F2}{wait 3000}{Down}{Down}{Enter}`)
 * and sends to a console with one pick. The source is what the person types:
 * literal text, `{Key}` for a named key, `{wait N}` for N milliseconds, `{{`
 * for a literal brace.
 */
export type MacroKey = (typeof MACRO_KEYS)[number];
export type MacroStep = { kind: 'text'; text: string } | { kind: 'key'; key: MacroKey } | { kind: 'wait'; ms: number };

export interface Macro {
  name: string;
  source: string;
}

export const MACRO_KEYS = ['Enter', 'Esc', 'Tab', 'Backspace', 'Del', 'Up', 'Down', 'Left', 'Right', 'Home', 'End', 'PgUp', 'PgDn', 'F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'F7', 'F8', 'F9', 'F10', 'F11', 'F12'] as const;

/** A wait longer than this is a typo, not a BIOS that slow. */
export const MAX_WAIT_MS = 60_000;
const MAX_STEPS = 500;

const invalid = (message: string) => new LightsoutError('VALIDATION_FAILED', message);

export function parseMacro(source: string): MacroStep[] {
  const steps: MacroStep[] = [];
  let text = '';
  const flush = () => {
    if (text !== '') steps.push({ kind: 'text', text });
    text = '';
  };
  for (let index = 0; index < source.length; ) {
    const character = source[index]!;
    if (character === '{' && source[index + 1] === '{') {
      text += '{';
      index += 2;
      continue;
    }
    if (character !== '{') {
      text += character;
      index += 1;
      continue;
    }
    const end = source.indexOf('}', index);
    if (end < 0) throw invalid(`"{" at ${index + 1} is not closed (a literal brace is "{{")`);
    const name = source.slice(index + 1, end).trim();
    index = end + 1;
    flush();
    const wait = /^wait\s+(\d+)$/i.exec(name);
    if (wait) {
      const ms = Number(wait[1]);
      if (ms > MAX_WAIT_MS) throw invalid(`{wait ${ms}} is longer than ${MAX_WAIT_MS} ms`);
      steps.push({ kind: 'wait', ms });
      continue;
    }
    const key = MACRO_KEYS.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (!key) throw invalid(`{${name}} is not a key: use ${MACRO_KEYS.join(', ')} or {wait N}`);
    steps.push({ kind: 'key', key });
  }
  flush();
  if (steps.length === 0) throw invalid('the macro is empty');
  if (steps.length > MAX_STEPS) throw invalid(`the macro has more than ${MAX_STEPS} steps`);
  return steps;
}

/**
 * What a serial terminal sends for each key (xterm's PC-style function keys,
 * which BIOS console redirection in VT100+/VT-UTF8 mode reads): Enter is CR,
 * Backspace DEL (0x7f), the cursor keys CSI A–D, F1–F4 SS3 P–S, F5–F12 CSI n ~.
 */
const SERIAL_KEYS: Record<MacroKey, string> = {
  Enter: '\r', Esc: '\x1b', Tab: '\t', Backspace: '\x7f', Del: '\x1b[3~',
  Up: '\x1b[A', Down: '\x1b[B', Right: '\x1b[C', Left: '\x1b[D', Home: '\x1b[H', End: '\x1b[F', PgUp: '\x1b[5~', PgDn: '\x1b[6~',
  F1: '\x1bOP', F2: '\x1bOQ', F3: '\x1bOR', F4: '\x1bOS', F5: '\x1b[15~', F6: '\x1b[17~', F7: '\x1b[18~', F8: '\x1b[19~', F9: '\x1b[20~', F10: '\x1b[21~', F11: '\x1b[23~', F12: '\x1b[24~',
};

const encoder = new TextEncoder();

export function serialBytesOf(step: Exclude<MacroStep, { kind: 'wait' }>): Uint8Array {
  return encoder.encode(step.kind === 'text' ? step.text : SERIAL_KEYS[step.key]);
}

/** X11 keysyms (keysymdef.h) for a VNC console's KeyEvent (RFC 6143 §7.5.4). */
const NAVIGATION_KEYSYMS: Partial<Record<MacroKey, number>> = {
  Enter: Keysym.Return, Esc: Keysym.Escape, Tab: Keysym.Tab, Backspace: Keysym.BackSpace, Del: Keysym.Delete,
  Home: 0xff50, Left: 0xff51, Up: 0xff52, Right: 0xff53, Down: 0xff54, PgUp: 0xff55, PgDn: 0xff56, End: 0xff57,
};

export function keysymOfKey(key: MacroKey): number {
  return NAVIGATION_KEYSYMS[key] ?? functionKey(Number(key.slice(1)));
}

export interface MacroProgress {
  step: number;
  steps: number;
  waitingMs?: number;
}

/**
 * Runs the steps in order: `send` hands one step to the console and says
 * whether it went out; `wait` resolves after the delay (or rejects when the
 * run is cancelled). Stops at the first step that was not sent: the rest of a
 * BIOS sequence must not go out of order later.
 */
export async function runMacro(steps: readonly MacroStep[], send: (step: Exclude<MacroStep, { kind: 'wait' }>) => boolean, wait: (ms: number) => Promise<void>, onProgress?: (progress: MacroProgress) => void): Promise<{ sent: number; steps: number }> {
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index]!;
    if (step.kind === 'wait') {
      onProgress?.({ step: index + 1, steps: steps.length, waitingMs: step.ms });
      await wait(step.ms);
      continue;
    }
    onProgress?.({ step: index + 1, steps: steps.length });
    if (!send(step)) return { sent: index, steps: steps.length };
  }
  return { sent: steps.length, steps: steps.length };
}

/** Stored macros, tolerant of anything else under the key (a hand-edited or older value). */
export function readMacros(stored: string | null): Macro[] {
  if (!stored) return [];
  try {
    const value: unknown = JSON.parse(stored);
    if (!Array.isArray(value)) return [];
    return value.filter((entry): entry is Macro => typeof entry === 'object' && entry !== null && typeof (entry as Macro).name === 'string' && typeof (entry as Macro).source === 'string');
  } catch {
    return [];
  }
}
