import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnTied } from './processes.js';
import { waitFor } from './wait.js';

/** The repository root, from lab/src. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Output kept per stream: enough for any wait, bounded for chatty children. */
const OUTPUT_LIMIT = 200_000;

/**
 * A child process this test started, with its output kept so a test can wait
 * for a line instead of sleeping. stop() kills exactly this process. It is
 * spawned tied to the test process: if the test worker is killed, the kernel
 * sends the child SIGTERM instead of leaving it running with ppid 1.
 */
export class TrackedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #listeners = new Set<() => void>();

  /** `stdin: 'pipe'` for a child a test types into (`child.stdin`); default none. */
  constructor(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, options: { stdin?: 'pipe' | 'ignore' } = {}) {
    this.name = name;
    this.child = spawnTied(command, args, { cwd: REPO_ROOT, env, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout = (this.stdout + chunk).slice(-OUTPUT_LIMIT);
      this.#notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-OUTPUT_LIMIT);
      this.#notify();
    });
    this.exited = once(this.child, 'exit').then(([code, signal]) => {
      this.#notify();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /** Resolves with the first match of `pattern` in stdout+stderr; rejects at the deadline or if the process exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = (this.stdout + this.stderr).match(pattern);
        if (match) {
          finish();
          resolve(match);
        } else if (!this.running) {
          finish();
          reject(new Error(`${this.name} exited before printing ${pattern}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Current and peak resident memory of the process (Linux /proc), for benchmarks. */
  memory(): { rssMib: number; peakRssMib: number } {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN') / 1024;
    return { rssMib: field('VmRSS'), peakRssMib: field('VmHWM') };
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }
}

/** Runs a command to completion (bounded) and returns its exit code and output. */
export async function runToCompletion(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const process = new TrackedProcess(args.join(' '), command, args, env);
  const timer = setTimeout(() => process.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code } = await process.exited;
    return { code, stdout: process.stdout, stderr: process.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a command whose stdout and stderr nobody reads any more: the read ends
 * of both pipes are closed before it starts, as when the supervisor that
 * started it was killed. Resolves with its exit code (or the signal that
 * ended it), or 'hung' when it had not exited within timeoutMs (it is then
 * killed).
 */
export async function runWithoutReader(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<number | NodeJS.Signals | 'hung'> {
  const child = spawnTied(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.destroy();
  child.stderr!.destroy();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return hung ? 'hung' : (code ?? signal!);
}

/**
 * Logs a few lines through `createLogger('info')` of the module at
 * `loggerModule`, then calls process.exit(0), in a process whose stdout
 * reader is gone (runWithoutReader): what it returns says whether the logger
 * lets a process exit once whoever read its logs was killed.
 */
export function exitAfterLoggingWithoutReader(loggerModule: URL, timeoutMs = 20_000): Promise<number | NodeJS.Signals | 'hung'> {
  const script = `import { createLogger } from ${JSON.stringify(loggerModule.href)};
    const logger = createLogger('info');
    for (let line = 0; line < 5; line++) logger.info({ line }, 'stopping');
    process.exit(0);`;
  return runWithoutReader(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], process.env, timeoutMs);
}

/**
 * waitFor (wait.ts) for a probe that is itself a real request: a pause of
 * 100 ms between probes leaves the CPUs to the processes under test.
 */
export function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return waitFor(what, probe, { timeoutMs, intervalMs: 100 });
}
