/** Test and benchmark processes and waits come from the lab package, shared with the CLI tests. */
export { REPO_ROOT, TrackedProcess as ChildProcessHandle, eventually, runToCompletion } from '@lightsout/lab/tracked-process';
export { until } from '@lightsout/lab/wait';
