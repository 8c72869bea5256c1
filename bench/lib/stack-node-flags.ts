import { SERVER_NODE_FLAGS, serverEnv } from '@lightsout/scripts/server-node-flags';

/**
 * Node/V8 flags for the relay and agent processes the benches start: the ones
 * they always run with (scripts/lib/server-node-flags.js), then any given for
 * an experiment (`STACK_NODE_FLAGS="--single-threaded-gc"`, `"--cpu-prof"`):
 * flags NODE_OPTIONS refuses, and without giving them to the bench and its
 * load processes too.
 */
export const STACK_NODE_FLAGS: readonly string[] = [...SERVER_NODE_FLAGS, ...(process.env['STACK_NODE_FLAGS'] ?? '').split(/\s+/).filter((flag) => flag !== '')];

/**
 * What the relay and agent processes the benches start have in their
 * environment beyond the bench's own: the servers' malloc settings
 * (scripts/lib/server-node-flags.js), or `STACK_GLIBC_TUNABLES` in their
 * place when it is set, for an experiment (empty: glibc's defaults).
 */
export const STACK_ENV: Readonly<Record<string, string>> =
  process.env['STACK_GLIBC_TUNABLES'] === undefined ? serverEnv(process.env) : { GLIBC_TUNABLES: process.env['STACK_GLIBC_TUNABLES'] };
