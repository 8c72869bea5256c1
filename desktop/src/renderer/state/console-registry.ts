import type { ConsoleState } from '../streams/console-stream.js';

/** A session that is over for good: only a new session brings the console back. */
export const ENDED_STATES: readonly ConsoleState[] = ['closed', 'failed'];

interface Entry {
  state: ConsoleState;
  restart(): void;
}

/**
 * Every console of this window and the state of its session, so that after an
 * outage (an agent restarted, a relay down longer than the resume grace) one
 * "Reconnect all" starts a new session for each console that ended, instead of
 * one "Start a new session" click per pane.
 */
export class ConsoleRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<() => void>();
  #ended = 0;

  set(id: string, entry: Entry): void {
    this.#entries.set(id, entry);
    this.#changed();
  }

  delete(id: string): void {
    if (this.#entries.delete(id)) this.#changed();
  }

  /** How many consoles' sessions are over (a stable number for useSyncExternalStore). */
  ended(): number {
    return this.#ended;
  }

  /** A new session for every console whose session ended; returns how many were restarted. */
  reconnectEnded(): number {
    const ended = [...this.#entries.values()].filter((entry) => ENDED_STATES.includes(entry.state));
    for (const entry of ended) entry.restart();
    return ended.length;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.#ended = [...this.#entries.values()].filter((entry) => ENDED_STATES.includes(entry.state)).length;
    for (const listener of this.#listeners) listener();
  }
}
