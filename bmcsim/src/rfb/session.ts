import { randomBytes } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';
import type { Host } from '../host/host.js';
import { GLYPH_HEIGHT } from '../host/font.js';
import { SCREEN_ROWS } from '../host/text-screen.js';
import { keysymToBytes, KeyboardState } from './keys.js';
import {
  type ClientMessage,
  decodeClientInit,
  decodeClientMessage,
  decodeClientProtocolVersion,
  decodeSecurityChoice,
  encodeFramebufferUpdateHeader,
  encodeProtocolVersion,
  encodeRectangleHeader,
  encodeSecurityResult,
  encodeSecurityType33,
  encodeSecurityTypes,
  encodeServerInit,
  ENCODING_RAW,
  noneSecurity,
  type PixelFormat,
  PROTOCOL_VERSION_LENGTH,
  type RfbVersion,
  VNC_AUTH_CHALLENGE_LENGTH,
  vncAuthMatches,
  vncAuthSecurity,
} from '@lightsout/bmc-wire/rfb';
import { encodePalette, FRAMEBUFFER_HEIGHT, FRAMEBUFFER_WIDTH, NATIVE_PIXEL_FORMAT, renderRectangle } from './render.js';

/** Byte pipe under one RFB session: a TCP socket or a WebSocket (/kvm/0). */
export interface RfbTransport {
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface RfbSessionOptions {
  host: Host;
  /** undefined = security type None. */
  password: string | undefined;
  desktopName: string;
}

/**
 * One RFB server session (RFC 6143 §7), as a state machine:
 *
 *   version → security (3.7/3.8 only) → challenge (VNC auth) → client-init → normal → closed
 *
 * Any protocol error goes through `fail()`, which closes the transport and
 * releases the host listeners. Updates are sent only when the client asked
 * (FramebufferUpdateRequest); an incremental request waits for the screen to
 * change rather than polling.
 */
type State = 'version' | 'security' | 'challenge' | 'client-init' | 'normal' | 'closed';

const MAX_BUFFERED = 1 << 20;

export class RfbServerSession {
  private state: State = 'version';
  private buffer = new Uint8Array(0);
  private version: RfbVersion = '3.8';
  private challenge = new Uint8Array(0);
  private format: PixelFormat = NATIVE_PIXEL_FORMAT;
  private palette = encodePalette(NATIVE_PIXEL_FORMAT);
  private readonly sentRowVersions = new Uint32Array(SCREEN_ROWS);
  private pending: { x: number; y: number; width: number; height: number } | undefined;
  private flushQueued = false;
  private readonly keyboard = new KeyboardState();
  private readonly onScreenChange = () => this.queueFlush();
  private failureReason: string | undefined;

  constructor(
    private readonly transport: RfbTransport,
    private readonly options: RfbSessionOptions,
  ) {
    transport.write(encodeProtocolVersion('3.8'));
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Bytes from the client, in whatever chunks the transport delivered. */
  receive(chunk: Uint8Array): void {
    if (this.state === 'closed') return;
    if (this.buffer.length + chunk.length > MAX_BUFFERED) return this.fail('client sent more than 1 MiB without a complete message');
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    try {
      // Bounded by the buffer: every step consumes bytes or returns.
      while (!this.closed && this.step()) {
        /* keep parsing */
      }
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  /** Transport went away: release everything. */
  dispose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.options.host.off('serial', this.onScreenChange);
    this.options.host.off('power', this.onScreenChange);
  }

  /** Why the session failed, for logs and tests; the peer only sees the connection close. */
  get failure(): string | undefined {
    return this.failureReason;
  }

  private fail(reason: string): void {
    if (this.state === 'closed') return;
    this.failureReason = reason;
    this.dispose();
    this.transport.close();
  }

  private consume(length: number): Uint8Array {
    const bytes = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return bytes;
  }

  /** Handles one message if complete; returns false when more bytes are needed. */
  private step(): boolean {
    switch (this.state) {
      case 'version': {
        // RFC 6143 §7.1.1, mapped as the agent maps it (bmc-wire's decoder).
        const version = decodeClientProtocolVersion(this.buffer);
        if (version === undefined) return false;
        this.consume(PROTOCOL_VERSION_LENGTH);
        this.version = version;
        const type = this.offeredType();
        if (this.version === '3.3') {
          // RFC 6143 §A.1: 3.3 servers choose the type and send it as a u32.
          this.transport.write(encodeSecurityType33(type));
          this.afterSecurityChoice(type);
        } else {
          this.transport.write(encodeSecurityTypes([type]));
          this.state = 'security';
        }
        return true;
      }
      case 'security': {
        const choice = decodeSecurityChoice(this.buffer);
        if (choice.kind === 'needMore') return false;
        this.consume(choice.length);
        const chosen = choice.value;
        if (chosen !== this.offeredType()) {
          if (this.version === '3.8') this.transport.write(encodeSecurityResult({ kind: 'failed', status: 1, reason: `security type ${chosen} was not offered` }, '3.8'));
          this.fail(`client chose security type ${chosen}`);
          return false;
        }
        this.afterSecurityChoice(chosen);
        return true;
      }
      case 'challenge': {
        if (this.buffer.length < VNC_AUTH_CHALLENGE_LENGTH) return false;
        const response = this.consume(VNC_AUTH_CHALLENGE_LENGTH);
        if (!vncAuthMatches(this.options.password ?? '', this.challenge, response)) {
          this.transport.write(encodeSecurityResult({ kind: 'failed', status: 1, reason: 'Authentication failed' }, this.version));
          this.fail('VNC authentication failed');
          return false;
        }
        this.transport.write(encodeSecurityResult({ kind: 'ok' }, this.version));
        this.state = 'client-init';
        return true;
      }
      case 'client-init': {
        const init = decodeClientInit(this.buffer);
        if (init.kind === 'needMore') return false;
        this.consume(init.length); // shared flag: every session here shares the one screen
        this.transport.write(encodeServerInit({ width: FRAMEBUFFER_WIDTH, height: FRAMEBUFFER_HEIGHT, pixelFormat: NATIVE_PIXEL_FORMAT, name: this.options.desktopName }));
        this.state = 'normal';
        this.options.host.on('serial', this.onScreenChange);
        this.options.host.on('power', this.onScreenChange);
        return true;
      }
      case 'normal': {
        const parsed = decodeClientMessage(this.buffer);
        if (parsed.kind === 'needMore') return false;
        this.consume(parsed.length);
        this.handle(parsed.value);
        return true;
      }
      default:
        return false;
    }
  }

  /** One type, decided by configuration: VNC Authentication when a password is set, else None. */
  private offeredType(): number {
    return this.options.password === undefined ? noneSecurity.type : vncAuthSecurity.type;
  }

  private afterSecurityChoice(type: number): void {
    if (type === vncAuthSecurity.type) {
      this.challenge = new Uint8Array(randomBytes(VNC_AUTH_CHALLENGE_LENGTH));
      this.transport.write(this.challenge);
      this.state = 'challenge';
      return;
    }
    // RFC 6143 §7.1.3: 3.8 sends SecurityResult even for None; 3.3 and 3.7 do not.
    if (this.version === '3.8') this.transport.write(encodeSecurityResult({ kind: 'ok' }, '3.8'));
    this.state = 'client-init';
  }

  private handle(message: ClientMessage): void {
    switch (message.kind) {
      case 'set-pixel-format':
        if (!message.format.trueColour) throw new LightsoutError('BMC_UNSUPPORTED', 'colour-map pixel formats are not supported');
        this.format = message.format;
        this.palette = encodePalette(message.format);
        this.sentRowVersions.fill(0); // everything must be resent in the new format
        return;
      case 'set-encodings':
        return; // Raw is always allowed (RFC 6143 §7.7.1), and it is all this server sends.
      case 'update-request':
        if (!message.incremental) this.sentRowVersions.fill(0);
        this.pending = { x: message.x, y: message.y, width: message.width, height: message.height };
        this.flush();
        return;
      case 'key': {
        const bytes = keysymToBytes(this.keyboard, message.keysym, message.down);
        if (bytes) this.options.host.type(bytes);
        return;
      }
      default:
        return; // pointer and clipboard have nothing to act on in a text console
    }
  }

  private queueFlush(): void {
    if (this.flushQueued || this.pending === undefined) return;
    this.flushQueued = true;
    // Coalesce a burst of serial output into one update.
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Sends every changed text row inside the pending request, if any changed. */
  private flush(): void {
    const request = this.pending;
    if (this.state !== 'normal' || request === undefined) return;
    const left = Math.min(request.x, FRAMEBUFFER_WIDTH);
    const top = Math.min(request.y, FRAMEBUFFER_HEIGHT);
    const right = Math.min(request.x + request.width, FRAMEBUFFER_WIDTH);
    const bottom = Math.min(request.y + request.height, FRAMEBUFFER_HEIGHT);
    if (right <= left || bottom <= top) {
      this.pending = undefined;
      this.transport.write(encodeFramebufferUpdateHeader(0));
      return;
    }
    const versions = this.options.host.screen.rowVersions;
    const rectangles: Array<[number, number]> = []; // [top pixel, bottom pixel)
    for (let row = Math.floor(top / GLYPH_HEIGHT); row * GLYPH_HEIGHT < bottom; row++) {
      if (versions[row] === this.sentRowVersions[row]) continue;
      this.sentRowVersions[row] = versions[row]!;
      const rowTop = Math.max(top, row * GLYPH_HEIGHT);
      const rowBottom = Math.min(bottom, (row + 1) * GLYPH_HEIGHT);
      const last = rectangles.at(-1);
      if (last && last[1] === rowTop) last[1] = rowBottom;
      else rectangles.push([rowTop, rowBottom]);
    }
    if (rectangles.length === 0) return; // wait for the screen to change
    this.pending = undefined;
    this.transport.write(encodeFramebufferUpdateHeader(rectangles.length));
    for (const [rectangleTop, rectangleBottom] of rectangles) {
      const height = rectangleBottom - rectangleTop;
      this.transport.write(encodeRectangleHeader({ x: left, y: rectangleTop, width: right - left, height, encoding: ENCODING_RAW }));
      this.transport.write(renderRectangle(this.options.host.screen, this.palette, left, rectangleTop, right - left, height));
    }
  }
}
