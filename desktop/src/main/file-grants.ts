import { isAbsolute } from 'node:path';
import { LightsoutError } from '@lightsout/shared';

export interface FileGrantOptions {
  now?: () => number;
  /** How long a chosen file stays readable; the renderer reads it right after the choice. */
  ttlMs?: number;
  /** Grants kept at most, over every window; the oldest goes first (a drop of many files). */
  maxGrants?: number;
}

/**
 * The local files a window may read: only paths the user chose — in main's
 * open dialog, or by dropping the file on the window (the preload reports the
 * path of a trusted drop). A page that names a path on its own (script
 * injected through a BMC's content, say) gets FORBIDDEN, so it cannot read
 * ~/.ssh or anything else the user did not hand over.
 *
 * A grant is for one window, one exact path (no normalisation a caller could
 * steer), one read, and a short time.
 */
export class FileGrants {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #maxGrants: number;
  /** `${windowId}\0${path}` → deadline; a Map iterates in insertion order, so the first key is the oldest. */
  readonly #deadlines = new Map<string, number>();

  constructor(options: FileGrantOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 2 * 60_000;
    this.#maxGrants = options.maxGrants ?? 32;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  grant(windowId: number, path: string): void {
    if (path.length === 0 || path.includes('\0') || !isAbsolute(path)) throw new LightsoutError('VALIDATION_FAILED', 'a granted path must be absolute');
    const key = `${windowId}\0${path}`;
    this.#deadlines.delete(key);
    this.#deadlines.set(key, this.#now() + this.#ttlMs);
    for (const oldest of this.#deadlines.keys()) {
      if (this.#deadlines.size <= this.#maxGrants) break;
      this.#deadlines.delete(oldest);
    }
  }

  /** Uses up the window's grant for exactly this path and returns it, or refuses with FORBIDDEN. */
  take(windowId: number, path: string): string {
    const key = `${windowId}\0${path}`;
    const deadline = this.#deadlines.get(key);
    this.#deadlines.delete(key);
    if (deadline === undefined || this.#now() >= deadline) {
      throw new LightsoutError('FORBIDDEN', `${path} was not chosen by the user (open dialog or drop)`, {
        hint: 'Choose the file with the open dialog or drop it on the window.',
      });
    }
    return path;
  }

  revokeWindow(windowId: number): void {
    const prefix = `${windowId}\0`;
    for (const key of [...this.#deadlines.keys()]) if (key.startsWith(prefix)) this.#deadlines.delete(key);
  }
}
