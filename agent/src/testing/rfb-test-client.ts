import { type Duplex } from 'node:stream';
import { decodeServerInit, encodePixelFormat, type ServerInit, decodeSecurityResult, decodeSecurityTypes, type SecurityOffer, decodeProtocolVersion, encodeProtocolVersion, type Decoded, readU32 } from '@lightsout/bmc-wire/rfb';

/**
 * Test support: a minimal RFB 3.8 viewer with security None, raw encoding
 * and 32-bit true colour, used to prove that a real framebuffer comes out of
 * the proxy. Not used by the agent itself.
 */
export class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.waiter?.();
    });
    const finish = (error?: Error): void => {
      this.ended ??= error ?? new Error('stream ended');
      this.waiter?.();
    };
    stream.once('end', () => finish());
    stream.once('error', finish);
    stream.once('close', () => finish());
  }

  /** Joins the buffered chunks once (joining on every chunk would be quadratic for big reads). */
  private buffered(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(count: number): void {
    const rest = this.buffered().subarray(count);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
  }

  private async more(): Promise<void> {
    if (this.ended) throw this.ended;
    await new Promise<void>((resolve) => (this.waiter = resolve));
    this.waiter = undefined;
  }

  /** Waits for one decodable message and removes it from the buffer. */
  async decode<T>(decoder: (bytes: Uint8Array) => Decoded<T>): Promise<T> {
    // Bounded by the stream: every wake-up adds bytes or ends the stream.
    for (;;) {
      const result = decoder(this.buffered());
      if (result.kind === 'value') {
        this.consume(result.length);
        return result.value;
      }
      while (this.length < result.needed) await this.more();
      if (result.needed <= 0) await this.more();
    }
  }

  async read(length: number): Promise<Uint8Array> {
    while (this.length < length) await this.more();
    const bytes = this.buffered().subarray(0, length);
    this.consume(length);
    return bytes;
  }
}

export interface ViewerResult {
  serverVersion: string;
  offered: SecurityOffer;
  serverInit: ServerInit;
  /** The first full framebuffer, 4 bytes per pixel, B G R X (little-endian 0x00RRGGBB). */
  framebuffer: Uint8Array;
  /** How many pixels have each colour (#rrggbb). x11vnc draws the pointer into the frame, so a solid desktop is not one colour. */
  colourCounts: Map<string, number>;
  /** The colour at (x, y) as #rrggbb. */
  pixel(x: number, y: number): string;
}

function colourAt(framebuffer: Uint8Array, offset: number): string {
  return `#${[framebuffer[offset + 2]!, framebuffer[offset + 1]!, framebuffer[offset]!].map((value) => value.toString(16).padStart(2, '0')).join('')}`;
}

/** Runs the viewer to the first complete full-screen update. */
export async function viewFirstFrame(stream: Duplex): Promise<ViewerResult> {
  const reader = new ByteReader(stream);
  const version = await reader.decode(decodeProtocolVersion);
  stream.write(encodeProtocolVersion('3.8'));
  const offered = await reader.decode(decodeSecurityTypes);
  if (offered.kind !== 'types') throw new Error(`refused: ${offered.reason}`);
  stream.write(Uint8Array.of(1));
  const result = await reader.decode((bytes) => decodeSecurityResult(bytes, '3.8'));
  if (result.kind !== 'ok') throw new Error(`security failed: ${result.reason}`);
  stream.write(Uint8Array.of(1)); // ClientInit, shared
  const serverInit = await reader.decode(decodeServerInit);
  // SetPixelFormat (§7.5.1), SetEncodings [Raw] (§7.5.2), FramebufferUpdateRequest full (§7.5.3)
  const format = encodePixelFormat({ bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 });
  stream.write(Uint8Array.from([0, 0, 0, 0, ...format]));
  stream.write(Uint8Array.from([2, 0, 0, 1, 0, 0, 0, 0]));
  const request = new Uint8Array(10);
  const view = new DataView(request.buffer);
  view.setUint8(0, 3);
  view.setUint16(6, serverInit.width);
  view.setUint16(8, serverInit.height);
  stream.write(request);

  const framebuffer = new Uint8Array(serverInit.width * serverInit.height * 4);
  let covered = 0;
  // Bounded: each message consumes bytes; the first full update ends the loop.
  while (covered < serverInit.width * serverInit.height) {
    const type = (await reader.read(1))[0]!;
    if (type === 2) continue; // Bell
    if (type === 3) {
      const header = await reader.read(7);
      await reader.read(readU32(header, 3));
      continue;
    }
    if (type !== 0) throw new Error(`unexpected server message ${type}`);
    const header = await reader.read(3);
    const rectangles = new DataView(header.buffer, header.byteOffset).getUint16(1);
    for (let index = 0; index < rectangles; index++) {
      const rectangle = await reader.read(12);
      const rectangleView = new DataView(rectangle.buffer, rectangle.byteOffset);
      const [x, y, width, height, encoding] = [rectangleView.getUint16(0), rectangleView.getUint16(2), rectangleView.getUint16(4), rectangleView.getUint16(6), rectangleView.getInt32(8)];
      if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
      const pixels = await reader.read(width * height * 4);
      for (let row = 0; row < height; row++) framebuffer.set(pixels.subarray(row * width * 4, (row + 1) * width * 4), ((y + row) * serverInit.width + x) * 4);
      covered += width * height;
    }
  }
  const colourCounts = new Map<string, number>();
  for (let offset = 0; offset < framebuffer.length; offset += 4) {
    const colour = colourAt(framebuffer, offset);
    colourCounts.set(colour, (colourCounts.get(colour) ?? 0) + 1);
  }
  const pixel = (x: number, y: number): string => colourAt(framebuffer, (y * serverInit.width + x) * 4);
  return { serverVersion: `${version.major}.${version.minor}`, offered, serverInit, framebuffer, colourCounts, pixel };
}
