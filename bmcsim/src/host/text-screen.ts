/**
 * The host's VGA-style text screen (80x25 cells). It is fed the same bytes the
 * serial console carries, so SOL, /console0 and KVM show one coherent machine.
 * Pixels are never stored: the RFB server renders cells on demand, which keeps
 * an idle simulated BMC at a few kilobytes (1,000 of them fit in one process).
 *
 * Understands just enough of a terminal: CR, LF, BS, TAB, and the ANSI CSI
 * sequences `m` (SGR colours), `J` (erase display) and `H` (cursor home).
 */

export const SCREEN_COLUMNS = 80;
export const SCREEN_ROWS = 25;

/** The 16 VGA text colours as 0xRRGGBB, in ANSI order (1 = red, 4 = blue) so SGR values index it directly. */
export const VGA_PALETTE: readonly number[] = [
  0x000000, 0xaa0000, 0x00aa00, 0xaa5500, 0x0000aa, 0xaa00aa, 0x00aaaa, 0xaaaaaa,
  0x555555, 0xff5555, 0x55ff55, 0xffff55, 0x5555ff, 0xff55ff, 0x55ffff, 0xffffff,
];

const DEFAULT_ATTRIBUTE = 0x07; // light grey on black
const MAX_CSI_LENGTH = 16;

export class TextScreen {
  /** Two bytes per cell: character, attribute (bg << 4 | fg). */
  readonly cells = new Uint8Array(SCREEN_COLUMNS * SCREEN_ROWS * 2);
  /** Incremented per row on every change; RFB sessions compare against what they sent. */
  readonly rowVersions = new Uint32Array(SCREEN_ROWS);
  private cursorColumn = 0;
  private cursorRow = 0;
  private attribute = DEFAULT_ATTRIBUTE;
  private escape: 'none' | 'escape' | 'csi' = 'none';
  private csiParameters = '';
  private version = 1;

  constructor() {
    this.clear();
  }

  clear(): void {
    for (let index = 0; index < SCREEN_COLUMNS * SCREEN_ROWS; index++) {
      this.cells[index * 2] = 0x20;
      this.cells[index * 2 + 1] = this.attribute;
    }
    for (let row = 0; row < SCREEN_ROWS; row++) this.touch(row);
    this.cursorColumn = 0;
    this.cursorRow = 0;
  }

  /** Resets colours and clears, as a VGA BIOS does at power-on. */
  reset(): void {
    this.attribute = DEFAULT_ATTRIBUTE;
    this.escape = 'none';
    this.clear();
  }

  write(bytes: Uint8Array): void {
    for (const byte of bytes) this.writeByte(byte);
  }

  character(column: number, row: number): number {
    return this.cells[(row * SCREEN_COLUMNS + column) * 2]!;
  }

  attributeAt(column: number, row: number): number {
    return this.cells[(row * SCREEN_COLUMNS + column) * 2 + 1]!;
  }

  /** The row's text without trailing spaces (for tests and logs). */
  rowText(row: number): string {
    let text = '';
    for (let column = 0; column < SCREEN_COLUMNS; column++) text += String.fromCharCode(this.character(column, row));
    return text.trimEnd();
  }

  text(): string {
    const rows: string[] = [];
    for (let row = 0; row < SCREEN_ROWS; row++) rows.push(this.rowText(row));
    return rows.join('\n').trimEnd();
  }

  private writeByte(byte: number): void {
    if (this.escape === 'escape') {
      this.escape = byte === 0x5b ? 'csi' : 'none';
      this.csiParameters = '';
      return;
    }
    if (this.escape === 'csi') {
      if (byte >= 0x40 && byte <= 0x7e) {
        this.escape = 'none';
        this.runCsi(String.fromCharCode(byte), this.csiParameters);
      } else if (this.csiParameters.length < MAX_CSI_LENGTH) {
        this.csiParameters += String.fromCharCode(byte);
      } else {
        this.escape = 'none'; // runaway sequence: drop it, as a terminal would
      }
      return;
    }
    switch (byte) {
      case 0x1b:
        this.escape = 'escape';
        return;
      case 0x0d:
        this.cursorColumn = 0;
        return;
      case 0x0a:
        this.lineFeed();
        return;
      case 0x08:
        if (this.cursorColumn > 0) this.cursorColumn--;
        return;
      case 0x09:
        this.cursorColumn = Math.min(SCREEN_COLUMNS - 1, (this.cursorColumn + 8) & ~7);
        return;
      default:
        if (byte < 0x20 || byte === 0x7f) return;
        if (this.cursorColumn >= SCREEN_COLUMNS) {
          this.cursorColumn = 0;
          this.lineFeed();
        }
        this.put(this.cursorColumn, this.cursorRow, byte);
        this.cursorColumn++;
    }
  }

  private put(column: number, row: number, character: number): void {
    const offset = (row * SCREEN_COLUMNS + column) * 2;
    this.cells[offset] = character;
    this.cells[offset + 1] = this.attribute;
    this.touch(row);
  }

  private lineFeed(): void {
    if (this.cursorRow < SCREEN_ROWS - 1) {
      this.cursorRow++;
      return;
    }
    const rowBytes = SCREEN_COLUMNS * 2;
    this.cells.copyWithin(0, rowBytes);
    for (let column = 0; column < SCREEN_COLUMNS; column++) {
      this.cells[(SCREEN_ROWS - 1) * rowBytes + column * 2] = 0x20;
      this.cells[(SCREEN_ROWS - 1) * rowBytes + column * 2 + 1] = this.attribute;
    }
    for (let row = 0; row < SCREEN_ROWS; row++) this.touch(row);
  }

  private runCsi(final: string, parameters: string): void {
    const values = parameters.split(';').map((value) => (value === '' ? 0 : Number.parseInt(value, 10)));
    if (final === 'm') {
      for (const value of values) this.applySgr(value);
    } else if (final === 'J' && values[0] === 2) {
      this.clear();
    } else if (final === 'H') {
      this.cursorRow = Math.min(SCREEN_ROWS - 1, Math.max(0, (values[0] ?? 1) - 1));
      this.cursorColumn = Math.min(SCREEN_COLUMNS - 1, Math.max(0, (values[1] ?? 1) - 1));
    }
  }

  private applySgr(value: number): void {
    if (value === 0) this.attribute = DEFAULT_ATTRIBUTE;
    else if (value === 1) this.attribute |= 0x08;
    else if (value >= 30 && value <= 37) this.attribute = (this.attribute & 0xf8) | (value - 30);
    else if (value >= 40 && value <= 47) this.attribute = (this.attribute & 0x0f) | ((value - 40) << 4);
  }

  private touch(row: number): void {
    this.rowVersions[row] = ++this.version;
  }
}
