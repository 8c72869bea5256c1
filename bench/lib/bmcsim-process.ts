/**
 * bmcsim as a process of its own, for the benchmarks and the tests that need
 * a simulated fleet beside a real stack: spawn it, wait until it says its
 * BMCs are up, stop it. One place, so every caller starts it the same way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const bmcsimBin = fileURLToPath(new URL('../../bmcsim/bin/bmcsim.js', import.meta.url));
/** What bmcsim prints once every BMC it was asked for listens. */
export const BMCSIM_UP = /BMCs up in \d+ ms/;

/** bmcsim with these arguments; stdout is piped (its readiness line), stderr inherited or piped into the failure text. */
export function spawnBmcsim(args: readonly string[], stderr: 'inherit' | 'pipe' = 'pipe'): ChildProcess {
  return spawn(process.execPath, [bmcsimBin, ...args], { stdio: ['ignore', 'pipe', stderr] });
}

/**
 * Resolves with the first match of `pattern` in the child's output; rejects,
 * with the output's tail, when the child exits first or `timeoutMs` passes.
 */
export function untilOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what = 'bmcsim'): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onOutput);
      child.off('exit', onExit);
      settle();
    };
    const onOutput = (chunk: Buffer | string) => {
      output += chunk.toString();
    };
    const onData = (chunk: Buffer | string) => {
      onOutput(chunk);
      const match = pattern.exec(output);
      if (match) finish(() => resolve(match[0]));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => finish(() => reject(new Error(`${what} exited (${signal ?? code}) before ${pattern}: ${output.slice(-1000)}`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`${what} did not print ${pattern} in ${timeoutMs} ms: ${output.slice(-1000)}`))), timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onOutput);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then wait for the exit; nothing to do for a child that already ended. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
