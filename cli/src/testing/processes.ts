/** Test processes come from the lab package, shared with the benchmarks. */
export { REPO_ROOT, TrackedProcess, eventually, runToCompletion } from '@lightsout/lab/tracked-process';
