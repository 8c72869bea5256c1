/**
 * Node.js flags for the two long-running servers, the relay and the agent,
 * however they are started: the bundles' first line, the relay package's
 * launcher, the agent's single executable, the demo and the benchmarks.
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
 * Plain JavaScript: bin/ files and the build read it before TypeScript.
 */
export const SERVER_NODE_FLAGS = ['--no-memory-reducer'];
