import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Debian's python3 (ctypes is all the shim needs); pyenv's python3 may come first on PATH. */
const DEBIAN_PYTHON = '/usr/bin/python3';

/**
 * The PR_SET_PDEATHSIG exec shim. A path, not an import, so black-box suites
 * that may not import @lightsout/* can run it too (from the repo root:
 * lab/assets/exec-with-parent.py).
 */
export const EXEC_WITH_PARENT = fileURLToPath(new URL('../assets/exec-with-parent.py', import.meta.url));

/** The argv that runs `command args` tied to this process: [python, shim, our pid, command, ...args]. */
export function tiedArgv(command: string, args: readonly string[]): [string, string[]] {
  return [DEBIAN_PYTHON, [EXEC_WITH_PARENT, String(process.pid), command, ...args]];
}

/**
 * spawn(), except the child gets SIGTERM from the kernel when this process
 * dies (a killed test worker, a crashed runner) instead of living on with
 * ppid 1. The shim execs the command in place, so `child.pid` is the
 * command's own pid and signals sent to it reach the command directly.
 */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const [python, argv] = tiedArgv(command, args);
  return spawn(python, argv, options);
}
