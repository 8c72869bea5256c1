/**
 * X11 keysyms (RFC 6143 §7.5.4) to the bytes a serial terminal would send,
 * so typing in the KVM window reaches the host's shell like SOL input does.
 */
const CONTROL_L = 0xffe3;
const CONTROL_R = 0xffe4;

const SPECIAL_KEYS = new Map<number, number>([
  [0xff08, 0x7f], // BackSpace
  [0xff09, 0x09], // Tab
  [0xff0d, 0x0d], // Return
  [0xff8d, 0x0d], // KP_Enter
  [0xff1b, 0x1b], // Escape
  [0xffff, 0x7f], // Delete
]);

export class KeyboardState {
  controlDown = false;
}

export function keysymToBytes(keyboard: KeyboardState, keysym: number, down: boolean): Uint8Array | undefined {
  if (keysym === CONTROL_L || keysym === CONTROL_R) {
    keyboard.controlDown = down;
    return undefined;
  }
  if (!down) return undefined;
  const special = SPECIAL_KEYS.get(keysym);
  if (special !== undefined) return Uint8Array.of(special);
  if (keysym >= 0x20 && keysym <= 0x7e) {
    if (keyboard.controlDown && ((keysym >= 0x61 && keysym <= 0x7a) || (keysym >= 0x41 && keysym <= 0x5a))) {
      return Uint8Array.of(keysym & 0x1f);
    }
    return Uint8Array.of(keysym);
  }
  return undefined;
}
