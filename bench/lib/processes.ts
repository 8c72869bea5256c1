import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root, from bench/lib. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A child process started by a benchmark or integration test, with its output
 * kept so callers wait for a line instead of sleeping; kill() stops exactly
 * this process. peakRssMib() reads the kernel's high-water mark (VmHWM).
 */
export class ChildProcessHandle {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout = (this.stdout + chunk).slice(-200_000);
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-200_000);
      this.notify();
    });
    this.exited = once(this.child, 'exit').then(([code, signal]) => {
      this.notify();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
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
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.stdout.slice(-4000)}\n${this.stderr.slice(-4000)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Resident set now and its peak so far (MiB), from /proc/PID/status. */
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

/** Runs a command to completion with a hard deadline (the child is killed by its own pid). */
export async function runToCompletion(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const handle = new ChildProcessHandle(args.join(' '), command, args, env);
  const timer = setTimeout(() => handle.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code } = await handle.exited;
    return { code, stdout: handle.stdout, stderr: handle.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it yields a value; bounded. For state owned by another process. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
