import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphRow } from '../host/font.js';
import { SCREEN_COLUMNS, SCREEN_ROWS, type TextScreen, VGA_PALETTE } from '../host/text-screen.js';
import type { PixelFormat } from '@lightsout/bmc-wire/rfb';

export const FRAMEBUFFER_WIDTH = SCREEN_COLUMNS * GLYPH_WIDTH; // 640
export const FRAMEBUFFER_HEIGHT = SCREEN_ROWS * GLYPH_HEIGHT; // 400

/** The server's native format: 32 bpp, depth 24, little-endian 0x00RRGGBB. */
export const NATIVE_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};

/** The 16 palette colours as pixel bytes in the client's format (RFC 6143 §7.4). */
export function encodePalette(format: PixelFormat): Uint8Array[] {
  return VGA_PALETTE.map((rgb) => encodePixel(format, (rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff));
}

export function encodePixel(format: PixelFormat, red: number, green: number, blue: number): Uint8Array {
  const value =
    ((Math.round((red * format.redMax) / 255) << format.redShift) |
      (Math.round((green * format.greenMax) / 255) << format.greenShift) |
      (Math.round((blue * format.blueMax) / 255) << format.blueShift)) >>>
    0;
  const size = format.bitsPerPixel / 8;
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) {
    const shift = 8 * (format.bigEndian ? size - 1 - index : index);
    bytes[index] = (value >>> shift) & 0xff;
  }
  return bytes;
}

/**
 * Raw-encoded pixels (RFC 6143 §7.7.1) of one rectangle of the text screen,
 * rendered straight from the cells: the screen is never held as pixels.
 */
export function renderRectangle(screen: TextScreen, palette: Uint8Array[], x: number, y: number, width: number, height: number): Uint8Array {
  const size = palette[0]!.length;
  const output = new Uint8Array(width * height * size);
  let offset = 0;
  for (let pixelY = y; pixelY < y + height; pixelY++) {
    const row = Math.floor(pixelY / GLYPH_HEIGHT);
    const glyphLine = pixelY % GLYPH_HEIGHT;
    for (let pixelX = x; pixelX < x + width; pixelX++) {
      const column = Math.floor(pixelX / GLYPH_WIDTH);
      const attribute = screen.attributeAt(column, row);
      const lit = (glyphRow(screen.character(column, row), glyphLine) << (pixelX % GLYPH_WIDTH)) & 0x80;
      output.set(palette[lit ? attribute & 0x0f : attribute >> 4]!, offset);
      offset += size;
    }
  }
  return output;
}
