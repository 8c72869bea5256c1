import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * The repo's PR_SET_PDEATHSIG exec shim, run by path (this suite is black-box
 * and imports no @lightsout/* package): the kernel sends SIGTERM to a process
 * we started when the runner that started it dies, so a killed test run
 * leaves no relay/agent/bmcsim behind with ppid 1. The shim execs in place,
 * so the pid we hold and signal is the command's own.
 */
const EXEC_WITH_PARENT = fileURLToPath(new URL('../../lab/assets/exec-with-parent.py', import.meta.url));
const DEBIAN_PYTHON = '/usr/bin/python3';

/** A free TCP port on loopback (bind 0, read it back, release). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Started {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a process tied to this one (see EXEC_WITH_PARENT), logging to `logFile`; `stop` sends SIGTERM, then SIGKILL after a bounded wait. */
export function startProcess(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Started {
  const log = createWriteStream(options.logFile);
  const child = spawn(DEBIAN_PYTHON, [EXEC_WITH_PARENT, String(process.pid), command, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    output = (output + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => log.end());
  return {
    name,
    child,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

/** Polls `check` until it returns a value (not undefined), failing after `timeoutMs` or when `process` exits. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, options: { timeoutMs: number; intervalMs?: number; process?: Started }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  let exited = false;
  void options.process?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${options.process!.name} exited while waiting for ${what}:\n${options.process!.output().slice(-4000)}`);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}${options.process ? `\n${options.process.output().slice(-4000)}` : ''}`);
}
