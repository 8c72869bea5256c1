import { waitFor } from '@lightsout/lab/wait';
/** Test and benchmark processes come from the lab package, shared with the CLI tests. */
export { REPO_ROOT, TrackedProcess as ChildProcessHandle, eventually, runToCompletion } from '@lightsout/lab/tracked-process';

/**
 * Resolves once `check` holds, looking again every 5 ms (stream tests wait
 * on in-process state: bytes counted, a client's state); rejects after
 * `timeoutMs` naming what it waited for (`what` may describe the state then).
 */
export async function until(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  await waitFor(what, check, { timeoutMs, intervalMs: 5 });
}
