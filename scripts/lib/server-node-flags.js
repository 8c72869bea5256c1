/**
 * Node.js flags for the two long-running servers, the relay and the agent,
 * however they are started: the bundles' first line, the relay package's
 * launcher, the agent's single executable, the demo and the benchmarks. The
 * CLI's bundle starts with them too: `media mount` streams whole images.
 *
 * --no-memory-reducer: after a few idle seconds V8's memory reducer collects
 * and then, until committed memory has grown by a tenth, lets the old
 * generation grow slowly (heap.cc, HeapGrowingMode::kSlow): its limit sits
 * 8 MB plus one new space above what is live, while incremental marking
 * starts whenever less than a new space is left. A server streaming a
 * console or an image after a quiet spell then marks without pause — a full
 * collection every 60–100 ms — and in the relay-throughput benchmark relay
 * and agent spent twice the CPU per byte (docs/benchmarks.md). Without the
 * reducer an idle server keeps the heap it last needed (tens of MB).
 *
 * --initial-old-space-size=64: the same trap without the reducer. After each
 * full collection the old generation's limit is what is live times a growth
 * factor, at least 8 MB more, plus one new space (heap-controller.cc,
 * CalculateAllocationLimit); the agent lives on ~15 MB, so its limit sat
 * ~12 MB above that, less than the new space it had grown to while streaming,
 * and incremental marking started again as soon as the last collection ended.
 * One 1 GiB image upload and the BMC's fetch of it cost the agent 76–99
 * mark-compacts and twice the CPU (iso-upload, docs/benchmarks.md). An
 * initial old-space size also sets the floor of that limit
 * (min_old_generation_size_): full collections wait until 64 MB is in use.
 *
 * Plain JavaScript: bin/ files and the build read it before TypeScript.
 */
export const SERVER_NODE_FLAGS = ['--no-memory-reducer', '--initial-old-space-size=64'];

/** A program file's first line that starts node with `flags` (`env -S` splits them from `node`: coreutils ≥ 8.30). */
export function shebangFor(flags) {
  return flags.length === 0 ? '#!/usr/bin/env node' : `#!/usr/bin/env -S node ${flags.join(' ')}`;
}
