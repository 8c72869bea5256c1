import { LightsoutError } from '@lightsout/shared';
import { CLIENT_MESSAGE_TYPE, decodeClientMessage, decodeClientProtocolVersion } from '@lightsout/bmc-wire/rfb';

const EMPTY = new Uint8Array(0);
/** §7.5.6 ClientCutText header: | 6 | padding (3) | length (u32) |. */
const CUT_TEXT_HEADER = 8;

/**
 * What a user's VNC client sends toward the BMC, sorted by RFB message
 * (RFC 6143 §7), before the proxy (client-stream.ts) sees it:
 *
 *   ProtocolVersion (12) → security type (1; none on 3.3) → ClientInit (1) → client messages (§7.5)
 *
 * The handshake passes as sent (ClientHandshake answers it). ClientInit
 * passes with its shared flag set, whatever the client asked (§7.3.1: 0
 * asks the server to disconnect every other client — other users' sessions
 * and the BMC's own KVM viewers). After it, the controller's messages pass
 * untouched, as a direct client's would. A viewer's are read one by one: a
 * viewer still needs SetPixelFormat, SetEncodings and
 * FramebufferUpdateRequest for a picture (and the extensions' continuous
 * updates and fences), and KeyEvent, PointerEvent, ClientCutText,
 * SetDesktopSize and QEMU's key and audio messages — what would act on the
 * console — are dropped. A viewer's
 * message that cannot be delimited (an unknown type, a length over
 * bmc-wire's caps) is a typed error (MALFORMED_MESSAGE, FRAME_TOO_LARGE):
 * the conversation cannot be followed past it.
 *
 * One conversation has one role: a VNC console group holds one session
 * (streams/extension.ts), whose mode does not change. A write in the other
 * role is an error rather than a guess at where the controller's bytes
 * left off.
 */
export class RfbClientFilter {
  private phase: 'version' | 'security' | 'client-init' | 'messages' = 'version';
  /** The start of a message (or of the version) not yet complete. */
  private pending: Uint8Array = EMPTY;
  /** Bytes still to come of a viewer's dropped ClientCutText: skipped as they arrive, never held (up to MAX_CUT_TEXT). */
  private skipping = 0;
  private role: 'control' | 'view' | undefined;

  /**
   * `viewer`: the bytes come from a member who may only watch. Returns what
   * goes on toward the BMC, in order (possibly nothing yet). Throws a
   * LightsoutError for a stream it cannot follow.
   */
  filter(bytes: Uint8Array, viewer: boolean): Uint8Array[] {
    const out: Uint8Array[] = [];
    const data = this.pending.length === 0 ? bytes : concat(this.pending, bytes);
    this.pending = EMPTY;
    let at = 0;
    // Bounded: every pass consumes bytes or returns.
    while (at < data.length) {
      if (this.skipping > 0) {
        const skipped = Math.min(this.skipping, data.length - at);
        this.skipping -= skipped;
        at += skipped;
        continue;
      }
      const rest = data.subarray(at);
      switch (this.phase) {
        // §7.1.1: the version decides whether a security type follows (3.3: the server picks it).
        case 'version': {
          const version = decodeClientProtocolVersion(rest);
          if (version === undefined) return this.hold(out, rest);
          out.push(rest.subarray(0, 12));
          at += 12;
          this.phase = version === '3.3' ? 'client-init' : 'security';
          continue;
        }
        // §7.1.2: one byte, the type chosen; ClientHandshake refuses any but None.
        case 'security':
          out.push(rest.subarray(0, 1));
          at += 1;
          this.phase = 'client-init';
          continue;
        // §7.3.1 ClientInit: | shared-flag (1) |
        case 'client-init':
          out.push(Uint8Array.of(1));
          at += 1;
          this.phase = 'messages';
          continue;
        case 'messages': {
          this.claim(viewer ? 'view' : 'control');
          if (!viewer) {
            out.push(rest);
            at = data.length;
            continue;
          }
          const extension = delimitExtension(rest);
          if (extension === 'needMore') return this.hold(out, rest);
          if (extension !== undefined) {
            if (extension.pass) out.push(rest.subarray(0, extension.length));
            at += extension.length;
            continue;
          }
          const message = decodeClientMessage(rest);
          if (message.kind === 'needMore') {
            // A viewer's clipboard is dropped whole: skip it as it comes instead of holding up to 1 MiB to drop.
            if (rest[0] === CLIENT_MESSAGE_TYPE.cutText && rest.length >= CUT_TEXT_HEADER) {
              this.skipping = message.needed - rest.length;
              at = data.length;
              continue;
            }
            return this.hold(out, rest);
          }
          const { kind } = message.value;
          if (kind !== 'key' && kind !== 'pointer' && kind !== 'cut-text') out.push(rest.subarray(0, message.length));
          at += message.length;
          continue;
        }
      }
    }
    return out;
  }

  private hold(out: Uint8Array[], rest: Uint8Array): Uint8Array[] {
    // A copy: the caller's buffer is not ours to keep.
    this.pending = rest.slice();
    return out;
  }

  private claim(role: 'control' | 'view'): void {
    this.role ??= role;
    if (this.role !== role) throw new LightsoutError('CONFLICT', `the RFB conversation of a ${this.role} session got input as ${role}`);
  }
}

/**
 * Client messages of the RFB extensions a viewer's client sends once the
 * server offers them (the community protocol, rfbproto.rst §7.5.*; noVNC
 * and TigerVNC send them): the conversation must not end on them. Those
 * that only ask for a picture or answer the server pass; those that act on
 * the console are dropped like a key. Undefined: not one of these.
 */
function delimitExtension(bytes: Uint8Array): { length: number; pass: boolean } | 'needMore' | undefined {
  const need = (length: number) => (bytes.length < length ? 'needMore' : length);
  switch (bytes[0]) {
    // EnableContinuousUpdates: | 150 | enable-flag (1) | x (u16) | y (u16) | width (u16) | height (u16) |
    case 150: {
      const length = need(10);
      return length === 'needMore' ? length : { length, pass: true };
    }
    // Fence: | 248 | padding (3) | flags (u32) | length (u8, ≤ 64) | payload (length) | — the server waits for the answer.
    case 248: {
      if (bytes.length < 9) return 'needMore';
      if (bytes[8]! > 64) throw new LightsoutError('MALFORMED_MESSAGE', `RFB Fence with a ${bytes[8]}-byte payload (max 64)`, { details: { length: bytes[8] } });
      const length = need(9 + bytes[8]!);
      return length === 'needMore' ? length : { length, pass: true };
    }
    // SetDesktopSize: | 251 | padding (1) | width (u16) | height (u16) | number-of-screens (u8) | padding (1) | screen (16) × n | — resizes the console.
    case 251: {
      if (bytes.length < 8) return 'needMore';
      const length = need(8 + 16 * bytes[6]!);
      return length === 'needMore' ? length : { length, pass: false };
    }
    // QEMU: | 255 | submessage (u8) | …: 0 Extended Key Event | down (u16) | keysym (u32) | keycode (u32) | (12);
    // 1 audio | operation (u16) |, 2 = set format adding | sample-format (u8) | channels (u8) | frequency (u32) | (4 or 10).
    case 255: {
      if (bytes.length < 2) return 'needMore';
      if (bytes[1] === 0) {
        const length = need(12);
        return length === 'needMore' ? length : { length, pass: false };
      }
      if (bytes[1] === 1) {
        if (bytes.length < 4) return 'needMore';
        const length = need(((bytes[2]! << 8) | bytes[3]!) === 2 ? 10 : 4);
        return length === 'needMore' ? length : { length, pass: false };
      }
      throw new LightsoutError('MALFORMED_MESSAGE', `unknown RFB QEMU client submessage ${bytes[1]}`, { details: { type: 255, submessage: bytes[1] } });
    }
    default:
      return undefined;
  }
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}
