/**
 * Node.js flags for the two long-running servers, the relay and the agent,
 * however they are started: the bundles' first line, the relay package's
 * launcher, the agent's single executable, the demo and the benchmarks. The
 * CLI's bundle starts with them too: `media mount` streams whole images.
 *
 * --initial-old-space-size=64: after each full collection V8 sets the old
 * generation's limit to what is live times a growth factor, at least 8 MB
 * more, plus one new space (heap-controller.cc, CalculateAllocationLimit),
 * and incremental marking starts whenever less than a new space is left.
 * The agent lives on ~15 MB, so its limit sat ~12 MB above that, less than
 * the new space it had grown to while streaming, and it marked again as
 * soon as the last collection ended: one 1 GiB image upload and the BMC's
 * fetch of it cost the agent 76–99 mark-compacts and twice the CPU
 * (iso-upload, docs/benchmarks.md). An initial old-space size also sets the
 * floor of that limit (min_old_generation_size_): full collections wait
 * until 64 MB is in use.
 *
 * V8's memory reducer stays on. Turned off (`--no-memory-reducer`, shipped
 * for an afternoon: after an idle spell the reducer lets the heap grow
 * slowly, and a transfer that follows marks without pause), a server under
 * steady light load kept every heap it grew into: the soak's agent grew
 * 28–40 % in ten minutes against 3–6 % with it (before each SOL console's
 * scrollback was held once). A 128 MB floor, which also
 * ends the relay's runs of mark-compacts while streaming, cost the soak
 * 13–30 % whether the reducer was on or off (docs/benchmarks.md, Stream
 * plane, "Mark-compact storms", and soak).
 *
 * Plain JavaScript: bin/ files and the build read it before TypeScript.
 */
export const SERVER_NODE_FLAGS = ['--initial-old-space-size=64'];

/** A program file's first line that starts node with `flags` (`env -S` splits them from `node`: coreutils ≥ 8.30). */
export function shebangFor(flags) {
  return flags.length === 0 ? '#!/usr/bin/env node' : `#!/usr/bin/env -S node ${flags.join(' ')}`;
}
