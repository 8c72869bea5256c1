/** Test and benchmark processes come from the lab package, shared with the CLI tests. */
export { REPO_ROOT, TrackedProcess as ChildProcessHandle, eventually, runToCompletion } from '@lightsout/lab/tracked-process';

/**
 * Resolves once `check` holds, looking again every 5 ms (stream tests wait
 * on in-process state: bytes counted, a client's state); rejects after
 * `timeoutMs` naming what it waited for (`what` may describe the state then).
 */
export async function until(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
