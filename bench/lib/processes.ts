/** Test and benchmark processes come from the lab package, shared with the CLI tests. */
export { REPO_ROOT, TrackedProcess as ChildProcessHandle, eventually, runToCompletion } from '@lightsout/lab/tracked-process';
