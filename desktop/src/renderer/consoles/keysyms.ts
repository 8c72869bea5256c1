/**
 * Text → X11 keysyms for "paste as keystrokes" on a VNC console (RFC 6143
 * §7.5.4 KeyEvent carries keysyms). Latin-1 characters are their own keysym;
 * other Unicode is 0x01000000 + code point (X11 keysymdef.h convention);
 * control characters map to the keys that produce them.
 */
export const Keysym = {
  BackSpace: 0xff08,
  Tab: 0xff09,
  Return: 0xff0d,
  Escape: 0xff1b,
  Delete: 0xffff,
  ControlLeft: 0xffe3,
  AltLeft: 0xffe9,
  F1: 0xffbe,
} as const;

export function keysymOf(character: string): number | null {
  const codePoint = character.codePointAt(0);
  if (codePoint === undefined) return null;
  if (character === '\n' || character === '\r') return Keysym.Return;
  if (character === '\t') return Keysym.Tab;
  if (character === '\b') return Keysym.BackSpace;
  if (character === '\x1b') return Keysym.Escape;
  if (codePoint < 0x20 || codePoint === 0x7f) return null;
  if (codePoint <= 0xff) return codePoint;
  return 0x01000000 + codePoint;
}

/** Keysyms for a paste: CRLF counts once, unmappable characters are skipped; capped. */
export function keysymsOf(text: string, max = 10_000): number[] {
  const keysyms: number[] = [];
  for (const character of text.replace(/\r\n/g, '\n')) {
    const keysym = keysymOf(character);
    if (keysym !== null) keysyms.push(keysym);
    if (keysyms.length >= max) break;
  }
  return keysyms;
}

/** F1..F12 keysyms are consecutive from F1 (keysymdef.h XK_F1 … XK_F12). */
export function functionKey(number: number): number {
  if (!Number.isInteger(number) || number < 1 || number > 12) throw new RangeError(`no F${number}`);
  return Keysym.F1 + number - 1;
}
