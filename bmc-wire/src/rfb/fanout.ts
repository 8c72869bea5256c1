import { LightsoutError } from '@lightsout/shared';
import { BmcHandshake } from './bmc-handshake.js';
import { ClientHandshake } from './client-handshake.js';
import { type ClientMessage, decodeClientMessage, encodeClientMessage } from './client-messages.js';
import { decodeClientInit, decodeServerInit, encodeClientInit, encodeServerInit, type PixelFormat, type ServerInit } from './init-messages.js';
import { decodeFramebufferUpdateHeader, decodeRectangleHeader, decodeServerMessage, encodeFramebufferUpdateHeader, encodeRectangleHeader, encodeServerMessage, ENCODING_RAW, type RectangleHeader, SERVER_MESSAGE_TYPE } from './server-messages.js';
import { type Decoded, MAX_FRAMEBUFFER_DIMENSION, protocolError } from './wire.js';

/**
 * The format the fan-out asks upstream for and keeps its framebuffer in:
 * 32 bits, little-endian, 8 bits a channel (bytes B, G, R, unused), the
 * format every viewer can take without loss and most ask for anyway.
 */
export const FANOUT_PIXEL_FORMAT: PixelFormat = { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };

/** Where the fan-out's bytes go; the caller binds these to sockets. */
export interface FanoutSink {
  toUpstream(bytes: Uint8Array): void;
  toViewer(id: number, bytes: Uint8Array): void;
  /**
   * Bytes given to toViewer that the viewer has not taken yet (a socket's
   * writableLength; 0 for a sink that takes everything at once). While an
   * update leaves any, that viewer gets no other update until the caller
   * says `viewerDrained`.
   */
  viewerBacklog(id: number): number;
  /** The viewer broke the protocol (or asked for what the fan-out cannot do): send nothing more, close it. */
  closeViewer(id: number, error: LightsoutError): void;
  /** A view-only fan-out dropped a viewer's key, pointer or clipboard message. */
  inputRefused?(id: number, kind: 'key' | 'pointer' | 'cut-text'): void;
}

export interface FanoutOptions {
  /** Key, pointer and clipboard messages of every viewer are dropped, never sent upstream. */
  viewOnly: boolean;
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Most a viewer may send between its ClientInit and our ServerInit: the
 * SetPixelFormat and SetEncodings a client may send early (§7.5) are a few
 * hundred bytes; anything near this is a flood nobody reads yet.
 */
export const MAX_VIEWER_BYTES_BEFORE_SERVER_INIT = 16 * 1024;

interface Viewer {
  phase: 'handshake' | 'client-init' | 'waiting' | 'normal';
  handshake: ClientHandshake;
  queue: ByteQueue;
  format: PixelFormat;
  /** The area its outstanding FramebufferUpdateRequests cover (their bounding box), if it has any; zero-sized: answer with an empty update. */
  request: Rect | undefined;
  /** An update it was sent is still in the sink: the next waits for `viewerDrained`. */
  draining: boolean;
  /** The part of the screen it has not seen as it is now (a bounding box). */
  dirty: Rect | undefined;
}

type Upstream =
  | { phase: 'handshake'; handshake: BmcHandshake }
  | { phase: 'server-init' }
  | { phase: 'message' }
  | { phase: 'rectangles'; remaining: number }
  | { phase: 'pixels'; remaining: number; rectangle: RectangleHeader };

/**
 * One RFB conversation upstream (a console session's byte stream, which
 * offers security type None: the BMC's own security was the agent's
 * business), any number of RFB viewers downstream (RFC 6143), as a pure
 * state machine. A viewer cannot join an RFB conversation in the middle,
 * so the fan-out is the one client upstream and a server to each viewer:
 *
 *   upstream: version → None → ClientInit(shared) → ServerInit
 *             → SetPixelFormat(FANOUT_PIXEL_FORMAT), SetEncodings([Raw]), full request
 *             → FramebufferUpdate (Raw) into the framebuffer; one incremental
 *               request outstanding while any viewer is connected
 *   a viewer: "RFB 003.008" → its version → None (ClientHandshake, 3.3–3.8)
 *             → ClientInit → ServerInit (the upstream size and name, our format)
 *             → on each FramebufferUpdateRequest: the part of the framebuffer
 *               it has not seen, as one Raw rectangle in its pixel format
 *
 * Raw only, both ways: the upstream BMC's compression stays upstream, and a
 * local viewer on loopback does not need any. Key, pointer and clipboard
 * messages go upstream as they are (or are dropped when view-only); a
 * viewer's SetPixelFormat and SetEncodings stay here.
 */
export class RfbFanout {
  private upstream: Upstream = { phase: 'handshake', handshake: new BmcHandshake({ password: undefined }) };
  private readonly upstreamQueue = new ByteQueue();
  private readonly viewers = new Map<number, Viewer>();
  private nextId = 1;
  private init: ServerInit | undefined;
  private framebuffer = new Uint8Array(0);
  /** The first full update has arrived: before it, the framebuffer is not the screen. */
  private complete = false;
  private requestOutstanding = false;

  constructor(
    private readonly sink: FanoutSink,
    private readonly options: FanoutOptions,
  ) {}

  /** The upstream screen, once ServerInit arrived. */
  get screen(): { width: number; height: number; name: string } | undefined {
    return this.init === undefined ? undefined : { width: this.init.width, height: this.init.height, name: this.init.name };
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Bytes of the console session. Throws BMC_PROTOCOL_ERROR for bytes no RFB server may send; the caller ends everything. */
  fromUpstream(bytes: Uint8Array): void {
    if (this.upstream.phase === 'handshake') {
      const step = this.upstream.handshake.receive(bytes);
      for (const reply of step.send) this.sink.toUpstream(reply);
      if (step.result === undefined) return;
      this.upstream = { phase: 'server-init' };
      this.sink.toUpstream(encodeClientInit({ shared: true }));
      return;
    }
    this.upstreamQueue.push(bytes);
    // Each pass takes one message or one rectangle's worth; it stops when the queue runs short.
    while (this.stepUpstream());
  }

  /** A viewer connected: its id, and the first bytes it must receive (the server speaks first, §7.1.1). */
  addViewer(): { id: number; greeting: Uint8Array } {
    const id = this.nextId++;
    const handshake = new ClientHandshake();
    this.viewers.set(id, { phase: 'handshake', handshake, queue: new ByteQueue(), format: FANOUT_PIXEL_FORMAT, request: undefined, draining: false, dirty: undefined });
    return { id, greeting: handshake.opening() };
  }

  removeViewer(id: number): void {
    this.viewers.delete(id);
  }

  /** The viewer took everything given to toViewer (its backlog is 0): it may have the update its requests are waiting for. */
  viewerDrained(id: number): void {
    const viewer = this.viewers.get(id);
    if (viewer === undefined || !viewer.draining) return;
    viewer.draining = false;
    this.serve(id, viewer);
  }

  fromViewer(id: number, bytes: Uint8Array): void {
    const viewer = this.viewers.get(id);
    if (viewer === undefined) return;
    try {
      this.stepViewer(id, viewer, bytes);
    } catch (error) {
      this.viewers.delete(id);
      this.sink.closeViewer(id, error instanceof LightsoutError ? error : new LightsoutError('MALFORMED_MESSAGE', `RFB viewer: ${(error as Error).message}`));
    }
  }

  private stepViewer(id: number, viewer: Viewer, bytes: Uint8Array): void {
    if (viewer.phase === 'handshake') {
      const step = viewer.handshake.receive(bytes);
      for (const reply of step.send) this.sink.toViewer(id, reply);
      if (step.failure !== undefined) throw step.failure;
      if (step.done === undefined) return;
      viewer.phase = 'client-init';
      bytes = step.done.leftover;
    }
    viewer.queue.push(bytes);
    if (viewer.phase === 'client-init') {
      if (take(viewer.queue, decodeClientInit) === undefined) return;
      // Every viewer shares the one upstream conversation, whatever it asked for.
      viewer.phase = 'waiting';
      this.greet(id, viewer);
    }
    if (viewer.phase !== 'normal') {
      // Nothing decodes these until the upstream ServerInit, which may be a while (the BMC connecting).
      if (viewer.queue.length > MAX_VIEWER_BYTES_BEFORE_SERVER_INIT) {
        throw new LightsoutError('FRAME_TOO_LARGE', `RFB viewer sent ${viewer.queue.length} bytes before ServerInit (max ${MAX_VIEWER_BYTES_BEFORE_SERVER_INIT})`, { details: { length: viewer.queue.length } });
      }
      return;
    }
    for (let message = take(viewer.queue, decodeClientMessage); message !== undefined; message = take(viewer.queue, decodeClientMessage)) {
      this.onViewerMessage(id, viewer, message);
      if (!this.viewers.has(id)) return;
    }
  }

  /** ServerInit to a viewer, once the upstream one is known. */
  private greet(id: number, viewer: Viewer): void {
    if (this.init === undefined || viewer.phase !== 'waiting') return;
    this.sink.toViewer(id, encodeServerInit({ ...this.init, pixelFormat: FANOUT_PIXEL_FORMAT }));
    viewer.phase = 'normal';
    viewer.dirty = this.whole();
    this.requestUpstream();
  }

  private onViewerMessage(id: number, viewer: Viewer, message: ClientMessage): void {
    switch (message.kind) {
      case 'set-pixel-format':
        if (!message.format.trueColour) throw new LightsoutError('BMC_UNSUPPORTED', 'RFB viewer asked for a colour-map pixel format; this server sends true colour only');
        viewer.format = message.format;
        // What it has was drawn in the old format.
        viewer.dirty = this.whole();
        return;
      case 'set-encodings':
        // Raw is always allowed (§7.7.1) and is all this server sends.
        return;
      case 'update-request': {
        const area = clip({ x: message.x, y: message.y, width: message.width, height: message.height }, this.whole());
        if (!message.incremental && area !== undefined) viewer.dirty = union(viewer.dirty, area);
        // Requests not answered yet are answered together (§7.5.3: one update may answer several).
        if (area !== undefined) viewer.request = viewer.request === undefined || isEmpty(viewer.request) ? area : union(viewer.request, area);
        else viewer.request ??= { x: 0, y: 0, width: 0, height: 0 };
        this.serve(id, viewer);
        return;
      }
      case 'key':
      case 'pointer':
      case 'cut-text':
        if (this.options.viewOnly) {
          this.sink.inputRefused?.(id, message.kind);
          return;
        }
        if (this.upstream.phase !== 'handshake' && this.upstream.phase !== 'server-init') this.sink.toUpstream(encodeClientMessage(message));
        return;
    }
  }

  /**
   * Answers a viewer's outstanding request, if the screen has something it
   * has not seen there and its last update left the sink. A viewer that does
   * not read holds at most one update here, however often it asks: the
   * server may answer later, and once for many requests (§7.5.3).
   */
  private serve(id: number, viewer: Viewer): void {
    const request = viewer.request;
    if (request === undefined || !this.complete || viewer.draining) return;
    if (isEmpty(request)) {
      viewer.request = undefined;
      this.sendUpdate(id, viewer, encodeFramebufferUpdateHeader(0));
      return;
    }
    const area = viewer.dirty === undefined ? undefined : clip(viewer.dirty, request);
    if (area === undefined) return;
    viewer.request = undefined;
    if (contains(request, viewer.dirty!)) viewer.dirty = undefined;
    const pixels = convertPixels(this.framebuffer, this.init!.width, area, viewer.format);
    const update = new Uint8Array(4 + 12 + pixels.length);
    update.set(encodeFramebufferUpdateHeader(1), 0);
    update.set(encodeRectangleHeader({ ...area, encoding: ENCODING_RAW }), 4);
    update.set(pixels, 16);
    this.sendUpdate(id, viewer, update);
  }

  private sendUpdate(id: number, viewer: Viewer, update: Uint8Array): void {
    this.sink.toViewer(id, update);
    viewer.draining = this.sink.viewerBacklog(id) > 0;
  }

  private requestUpstream(): void {
    if (this.requestOutstanding || !this.complete || this.init === undefined) return;
    if (![...this.viewers.values()].some((viewer) => viewer.phase === 'normal')) return;
    this.requestOutstanding = true;
    this.sink.toUpstream(encodeClientMessage({ kind: 'update-request', incremental: true, x: 0, y: 0, width: this.init.width, height: this.init.height }));
  }

  private whole(): Rect {
    return { x: 0, y: 0, width: this.init?.width ?? 0, height: this.init?.height ?? 0 };
  }

  /** One step of the upstream conversation after the handshake; false when it needs more bytes. */
  private stepUpstream(): boolean {
    const queue = this.upstreamQueue;
    const state = this.upstream;
    switch (state.phase) {
      case 'handshake':
        return false;
      case 'server-init': {
        const init = take(queue, decodeServerInit);
        if (init === undefined) return false;
        if (init.width > MAX_FRAMEBUFFER_DIMENSION || init.height > MAX_FRAMEBUFFER_DIMENSION) {
          throw protocolError(`a ${init.width}x${init.height} screen, larger than the ${MAX_FRAMEBUFFER_DIMENSION}x${MAX_FRAMEBUFFER_DIMENSION} the fan-out holds`, { width: init.width, height: init.height });
        }
        this.init = init;
        this.framebuffer = new Uint8Array(init.width * init.height * 4);
        this.upstream = { phase: 'message' };
        this.sink.toUpstream(encodeClientMessage({ kind: 'set-pixel-format', format: FANOUT_PIXEL_FORMAT }));
        this.sink.toUpstream(encodeClientMessage({ kind: 'set-encodings', encodings: [ENCODING_RAW] }));
        this.sink.toUpstream(encodeClientMessage({ kind: 'update-request', incremental: false, x: 0, y: 0, width: init.width, height: init.height }));
        this.requestOutstanding = true;
        for (const [id, viewer] of this.viewers) this.greet(id, viewer);
        return true;
      }
      case 'message': {
        if (queue.length === 0) return false;
        if (queue.peek(1)[0] === SERVER_MESSAGE_TYPE.framebufferUpdate) {
          const header = take(queue, decodeFramebufferUpdateHeader);
          if (header === undefined) return false;
          this.upstream = { phase: 'rectangles', remaining: header.rectangleCount };
          if (header.rectangleCount === 0) this.updateDone();
          return true;
        }
        const message = take(queue, decodeServerMessage);
        if (message === undefined) return false;
        if (message.kind === 'bell' || message.kind === 'cut-text') this.broadcast(encodeServerMessage(message));
        return true;
      }
      case 'rectangles': {
        const rectangle = take(queue, decodeRectangleHeader);
        if (rectangle === undefined) return false;
        if (rectangle.encoding !== ENCODING_RAW) throw protocolError(`a rectangle in encoding ${rectangle.encoding}, which was not asked for (only Raw)`, { encoding: rectangle.encoding });
        if (rectangle.x + rectangle.width > this.init!.width || rectangle.y + rectangle.height > this.init!.height) {
          throw protocolError(`a rectangle ${rectangle.width}x${rectangle.height}+${rectangle.x}+${rectangle.y} outside the ${this.init!.width}x${this.init!.height} framebuffer`, { ...rectangle });
        }
        this.upstream = { phase: 'pixels', remaining: state.remaining, rectangle };
        return true;
      }
      case 'pixels': {
        const { rectangle } = state;
        const length = rectangle.width * rectangle.height * 4;
        if (queue.length < length) return false;
        const pixels = queue.read(length);
        const stride = this.init!.width * 4;
        for (let row = 0; row < rectangle.height; row++) {
          this.framebuffer.set(pixels.subarray(row * rectangle.width * 4, (row + 1) * rectangle.width * 4), (rectangle.y + row) * stride + rectangle.x * 4);
        }
        for (const viewer of this.viewers.values()) if (viewer.phase === 'normal') viewer.dirty = union(viewer.dirty, rectangle);
        const remaining = state.remaining - 1;
        this.upstream = { phase: 'rectangles', remaining };
        if (remaining === 0) this.updateDone();
        return true;
      }
    }
  }

  private updateDone(): void {
    this.upstream = { phase: 'message' };
    this.complete = true;
    this.requestOutstanding = false;
    for (const [id, viewer] of this.viewers) if (viewer.phase === 'normal') this.serve(id, viewer);
    this.requestUpstream();
  }

  private broadcast(bytes: Uint8Array): void {
    for (const [id, viewer] of this.viewers) if (viewer.phase === 'normal') this.sink.toViewer(id, bytes);
  }
}

/** Decodes one message off the front of the queue, or undefined (nothing taken) until it is all there. */
function take<T>(queue: ByteQueue, decode: (bytes: Uint8Array) => Decoded<T>): T | undefined {
  if (queue.length === 0) return undefined;
  const result = decode(queue.peek(queue.length));
  if (result.kind === 'needMore') return undefined;
  queue.read(result.length);
  return result.value;
}

/** Received bytes not yet decoded: chunks kept as they came, joined only as far as a read needs. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** The first `count` bytes, contiguous, without taking them. */
  peek(count: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= count) return first.subarray(0, count);
    const joined = new Uint8Array(count);
    let filled = 0;
    let used = 0;
    while (filled < count) {
      const chunk = this.chunks[used]!;
      const part = chunk.subarray(0, count - filled);
      joined.set(part, filled);
      filled += part.length;
      if (part.length === chunk.length) used++;
      else {
        // Keep the joined front as one chunk so the next peek need not join again.
        this.chunks.splice(0, used, joined);
        this.chunks[1] = chunk.subarray(part.length);
        return joined;
      }
    }
    this.chunks.splice(0, used, joined);
    return joined;
  }

  read(count: number): Uint8Array {
    const bytes = this.peek(count);
    const first = this.chunks[0]!;
    if (first.length === count) this.chunks.shift();
    else this.chunks[0] = first.subarray(count);
    this.length -= count;
    return bytes;
  }
}

function clip(rect: Rect, bounds: Rect): Rect | undefined {
  const x = Math.max(rect.x, bounds.x);
  const y = Math.max(rect.y, bounds.y);
  const right = Math.min(rect.x + rect.width, bounds.x + bounds.width);
  const bottom = Math.min(rect.y + rect.height, bounds.y + bounds.height);
  return right > x && bottom > y ? { x, y, width: right - x, height: bottom - y } : undefined;
}

function union(a: Rect | undefined, b: Rect): Rect {
  if (a === undefined) return { x: b.x, y: b.y, width: b.width, height: b.height };
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

function isEmpty(rect: Rect): boolean {
  return rect.width === 0 || rect.height === 0;
}

function contains(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

function samePixelFormat(a: PixelFormat, b: PixelFormat): boolean {
  return (Object.keys(a) as (keyof PixelFormat)[]).every((key) => key === 'depth' || a[key] === b[key]);
}

/**
 * A rectangle of the framebuffer (FANOUT_PIXEL_FORMAT) in a viewer's true
 * colour format (§7.4): each channel scaled to its max, shifted, and the
 * pixel written in 1, 2 or 4 bytes in the viewer's byte order.
 */
export function convertPixels(framebuffer: Uint8Array, stride: number, area: Rect, format: PixelFormat): Uint8Array {
  const bytesPerPixel = format.bitsPerPixel / 8;
  const out = new Uint8Array(area.width * area.height * bytesPerPixel);
  if (samePixelFormat(format, FANOUT_PIXEL_FORMAT)) {
    for (let row = 0; row < area.height; row++) {
      const start = ((area.y + row) * stride + area.x) * 4;
      out.set(framebuffer.subarray(start, start + area.width * 4), row * area.width * 4);
    }
    return out;
  }
  const view = new DataView(out.buffer);
  const little = !format.bigEndian;
  const scale = (value: number, max: number) => Math.round((value * max) / 255);
  let offset = 0;
  for (let row = 0; row < area.height; row++) {
    let source = ((area.y + row) * stride + area.x) * 4;
    for (let column = 0; column < area.width; column++, source += 4, offset += bytesPerPixel) {
      const pixel = ((scale(framebuffer[source + 2]!, format.redMax) << format.redShift) | (scale(framebuffer[source + 1]!, format.greenMax) << format.greenShift) | (scale(framebuffer[source]!, format.blueMax) << format.blueShift)) >>> 0;
      if (bytesPerPixel === 4) view.setUint32(offset, pixel, little);
      else if (bytesPerPixel === 2) view.setUint16(offset, pixel & 0xffff, little);
      else out[offset] = pixel & 0xff;
    }
  }
  return out;
}
