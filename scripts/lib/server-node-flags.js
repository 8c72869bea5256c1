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

/**
 * glibc malloc settings (`GLIBC_TUNABLES`) for the same two servers and the
 * CLI, which streams whole images too.
 *
 * Every chunk of bytes these servers pass on is a fresh buffer: Node's HTTP
 * parser copies each body chunk into its own (node_http_parser.cc, on_body)
 * and each socket read gets its own. A transfer frees them in batches, at
 * each collection, and with glibc's defaults the freed top of the heap goes
 * back to the kernel once more than 128 KiB of it is free (M_TRIM_THRESHOLD;
 * the dynamic threshold rises only after an mmap'd chunk is freed). The next
 * batch takes the same pages again, and each of its 4 KiB pages is a page
 * fault on first touch. On a virtual machine a fault costs several times
 * what it costs on bare metal: in iso-upload the relay spent about a quarter
 * of its CPU in page faults under the copy into each new buffer, and 5.4–7.0
 * CPU-s to pass on 1 GiB, 1.6–2.0 with these (docs/benchmarks.md, Virtual
 * media, "Pages given back and taken again").
 *
 * - trim_threshold=64 MiB: the top of the heap goes back to the kernel only
 *   when 64 MiB of it is free, so a transfer reuses the pages its last
 *   batch freed (16 MiB is less than a batch, and saved nothing). The price:
 *   up to that much free heap stays resident after a burst; in the soak the
 *   manager's RSS growth with and without them (+13.9 and +0.59 %, +0.28,
 *   −0.08 and +11.9 %) could not be told apart.
 * - mmap_threshold=4 MiB: setting either turns glibc's dynamic threshold
 *   off (mallopt(3)), which would leave it at 128 KiB and map (and unmap,
 *   and fault again) every larger chunk, such as the CLI's file reads. Up to
 *   4 MiB a chunk comes from the heap, and is reused there.
 *
 * Ours first, so that settings an operator gives in `GLIBC_TUNABLES` come
 * after them and win. Other C libraries ignore the variable.
 */
export const SERVER_MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304';

/** The environment a server process is started with, over `env`: the malloc settings first, the operator's own after. */
export function serverEnv(env = process.env) {
  const theirs = env.GLIBC_TUNABLES ?? '';
  if (theirs === '') return { GLIBC_TUNABLES: SERVER_MALLOC_TUNABLES };
  return { GLIBC_TUNABLES: `${SERVER_MALLOC_TUNABLES}:${theirs}` };
}

/**
 * A program file's first line that starts node with `flags`, and with the
 * malloc settings `tunables` before whatever `GLIBC_TUNABLES` the caller has
 * (`env -S` splits the line and expands `${…}`: coreutils ≥ 8.30; an unset
 * variable leaves an empty last item, which glibc ignores).
 */
export function shebangFor(flags, tunables) {
  const env = tunables === undefined ? '' : `GLIBC_TUNABLES=${tunables}:\${GLIBC_TUNABLES} `;
  return flags.length === 0 && env === '' ? '#!/usr/bin/env node' : `#!/usr/bin/env -S ${env}node ${flags.join(' ')}`.trimEnd();
}
