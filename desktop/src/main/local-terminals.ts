import type { IPty } from 'node-pty';
import { LightsoutError } from '@lightsout/shared';

/** node-pty's spawn, injected so main loads the native module lazily (and tests choose the shell). */
export type PtySpawn = (file: string, args: string[], options: { cols: number; rows: number; cwd: string; env: Record<string, string>; name: string }) => IPty;

export interface TerminalEvents {
  data(terminalId: number, data: string): void;
  exit(terminalId: number, exitCode: number): void;
}

const MAX_TERMINALS = 32;
const clampSize = (value: number, max: number) => Math.max(1, Math.min(max, Math.floor(Number.isFinite(value) ? value : 1)));

/**
 * Local shells for the desktop's terminal tabs. Each lives in main (node-pty);
 * the renderer only holds a numeric id and sees data through IPC events. Every
 * pty is owned here and killed on `disposeAll` (window closed, app quitting).
 */
export class LocalTerminals {
  readonly #spawn: PtySpawn;
  readonly #events: TerminalEvents;
  readonly #shell: { file: string; args: string[] };
  readonly #terminals = new Map<number, IPty>();
  #nextId = 1;

  constructor(spawn: PtySpawn, events: TerminalEvents, shell: { file: string; args: string[] }) {
    this.#spawn = spawn;
    this.#events = events;
    this.#shell = shell;
  }

  get count(): number {
    return this.#terminals.size;
  }

  spawn(cols: number, rows: number, cwd: string, env: Record<string, string>): number {
    if (this.#terminals.size >= MAX_TERMINALS) throw new LightsoutError('RATE_LIMITED', `at most ${MAX_TERMINALS} local terminals`);
    const terminalId = this.#nextId++;
    const pty = this.#spawn(this.#shell.file, this.#shell.args, { cols: clampSize(cols, 1000), rows: clampSize(rows, 500), cwd, env, name: 'xterm-256color' });
    this.#terminals.set(terminalId, pty);
    pty.onData((data) => this.#events.data(terminalId, data));
    pty.onExit(({ exitCode }) => {
      this.#terminals.delete(terminalId);
      this.#events.exit(terminalId, exitCode);
    });
    return terminalId;
  }

  #get(terminalId: number): IPty {
    const pty = this.#terminals.get(terminalId);
    if (!pty) throw new LightsoutError('NOT_FOUND', `no local terminal ${terminalId}`);
    return pty;
  }

  write(terminalId: number, data: string): void {
    if (typeof data !== 'string' || data.length > 1 << 20) throw new LightsoutError('PAYLOAD_TOO_LARGE', 'terminal input over 1 MiB');
    this.#get(terminalId).write(data);
  }

  resize(terminalId: number, cols: number, rows: number): void {
    this.#get(terminalId).resize(clampSize(cols, 1000), clampSize(rows, 500));
  }

  kill(terminalId: number): void {
    const pty = this.#terminals.get(terminalId);
    if (!pty) return;
    this.#terminals.delete(terminalId);
    pty.kill();
  }

  disposeAll(): void {
    for (const terminalId of [...this.#terminals.keys()]) this.kill(terminalId);
  }
}
