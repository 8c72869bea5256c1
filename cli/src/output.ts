/** Where a command writes; injected so commands run in-process in tests. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: progress may be drawn in place. */
  interactive?: boolean;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};

/**
 * Control characters a terminal would obey rather than show: C0 and DEL,
 * C1 (ECMA-48 §5.2, §5.3: U+0080–U+009F, which xterm and others act on
 * even when UTF-8 encoded, e.g. U+009B = CSI) and the bidi embeddings,
 * overrides and isolates (Unicode UAX #9 §2.1–2.4, the "Trojan Source" set)
 * that reorder what is displayed.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Text from the relay as the terminal should show it: every control above
 * written out visibly (`\x1b`, `\x9b`, `\u202e`), so a name, a BMC's
 * vendor string or an error message cannot set the clipboard (OSC 52), the
 * window title or the cursor, or disguise itself. `newlines` keeps line
 * breaks in free text (a message); a table cell never keeps them. `--json`
 * output does not pass through here, and the console streams raw by design.
 */
export function printable(text: string, options: { newlines?: boolean } = {}): string {
  return text.replace(options.newlines ? CONTROLS_BUT_NEWLINE : CONTROLS, (control) => {
    const point = control.codePointAt(0)!;
    return point <= 0xff ? `\\x${point.toString(16).padStart(2, '0')}` : `\\u${point.toString(16).padStart(4, '0')}`;
  });
}

/** A plain, aligned text table (no colours, no box drawing: it must survive grep and pipes); cells shown by `printable`. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  const cells = rows.map((row) => headers.map((_, index) => printable(String(row[index] ?? '-'))));
  const widths = headers.map((header, index) => Math.max(header.length, ...cells.map((row) => row[index]!.length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join('\n')}\n`;
}

/** JSON.stringify escapes C0 but writes DEL, C1 and the bidi controls as they are: those go out as \u escapes (the same JSON). */
const RAW_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2).replace(RAW_IN_JSON, (control) => `\\u${control.codePointAt(0)!.toString(16).padStart(4, '0')}`)}\n`;
}
