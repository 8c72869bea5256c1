import type { Output } from './output.js';

/**
 * One line on stderr, redrawn in place on a terminal, printed every 10%
 * otherwise (a log, CI, LIGHTSOUT_PROGRESS=lines).
 */
export class ProgressBar {
  readonly #output: Output;
  readonly #tty: boolean;
  #active = false;
  #lastTenth = -1;
  #label = '';
  #startedAt = 0;
  /** Bytes already done when the bar appeared (the agent's pull runs during the upload): not counted in its rate. */
  #startBytes = 0;

  constructor(output: Output, env: NodeJS.ProcessEnv) {
    this.#output = output;
    this.#tty = output.interactive === true && env['LIGHTSOUT_PROGRESS'] !== 'lines';
  }

  show(label: string, done: number, total: number): void {
    if (label !== this.#label) {
      this.done();
      this.#label = label;
      this.#startedAt = Date.now();
      this.#startBytes = done;
      this.#lastTenth = -1;
    }
    this.#active = true;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const seconds = Math.max(0.001, (Date.now() - this.#startedAt) / 1000);
    // too early for a rate that means anything
    const rate = seconds < 0.25 ? '' : `  ${((done - this.#startBytes) / seconds / 1e6).toFixed(1)} MB/s`;
    const width = 30;
    const filled = Math.round(fraction * width);
    const line = `${label.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(done)}/${formatBytes(total)}${rate}`;
    if (this.#tty) {
      this.#output.err(`\r${line}`);
    } else {
      const tenth = Math.floor(fraction * 10);
      if (tenth !== this.#lastTenth) {
        this.#lastTenth = tenth;
        this.#output.err(`${line}  (${seconds.toFixed(1)} s)\n`);
      }
    }
  }

  done(): void {
    if (this.#active && this.#tty) this.#output.err('\n');
    this.#active = false;
    this.#label = '';
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} B`;
}
