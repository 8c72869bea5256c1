import type { ChildProcess, StdioOptions } from 'node:child_process';
import { spawnTied } from './processes.js';

/** The last bytes a peer printed, kept for error messages (bounded). */
const OUTPUT_LIMIT = 16 * 1024;

export interface PeerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code/signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout+stderr tail, for diagnostics. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns one peer process and tracks exactly that pid. Peers are test
 * fixtures: they never outlive the test that started them (callers stop
 * them in afterAll/finally; if the test process is killed, the kernel sends
 * them SIGTERM), and nothing here kills by name.
 */
export function spawnPeer(name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdio?: StdioOptions } = {}): PeerProcess {
  // Through the exec shim: the peer gets SIGTERM if this process dies without stopping it.
  const child = spawnTied(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const collect = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      collect(Buffer.from(`spawn failed: ${error.message}\n`));
      resolve({ code: -1, signal: null });
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return { name, child, pid: child.pid ?? -1, exited, output: () => tail, stop };
}

/** Runs a short helper command to completion; rejects with its output on failure. */
export async function runToCompletion(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<string> {
  const peer = spawnPeer(name, command, args, { env: options.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (options.input !== undefined) peer.child.stdin?.end(options.input);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const timer = setTimeout(() => void peer.stop(), timeoutMs);
  const { code, signal } = await peer.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${name} failed (code ${code}, signal ${signal}): ${peer.output().trim()}`);
  return peer.output();
}

/**
 * Waits until `predicate` holds on the accumulated output of `stream`, or
 * rejects when the process exits first or `timeoutMs` passes.
 */
export function waitForOutput(peer: PeerProcess, stream: NodeJS.ReadableStream, predicate: (text: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      text = (text + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
      if (predicate(text)) finish();
    };
    const timer = setTimeout(() => finish(new Error(`${peer.name} not ready after ${timeoutMs} ms: ${peer.output().trim()}`)), timeoutMs);
    stream.on('data', onData);
    void peer.exited.then(({ code, signal }) => finish(new Error(`${peer.name} exited (code ${code}, signal ${signal}) before it was ready: ${peer.output().trim()}`)));
  });
}
