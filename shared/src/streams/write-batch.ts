/** What a batch holds back: a Node net.Socket (the one under a `ws` WebSocket, or a console port's). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Frames written to one socket in the same tick leave in one `writev`.
 * Returns `batch()`, to call before each write: the first call of a tick
 * corks the socket and `defer` (Node: process.nextTick) uncorks it once the
 * current callback — the relaying of every frame one socket read held — is
 * done. Nothing waits for a later event-loop turn, so a keystroke leaves as
 * soon as it did unbatched; a bulk stream's four 16 KiB frames per 64 KiB
 * read cost one system call instead of four. A target that cannot be corked
 * (undefined) is written frame by frame.
 */
export function tickBatcher(target: Corkable | undefined, defer: (callback: () => void) => void): () => void {
  if (target === undefined) return () => {};
  let corked = false;
  const release = (): void => {
    corked = false;
    target.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    target.cork();
    defer(release);
  };
}

/**
 * Byte counts reported once per tick, not once per frame: `count(n)` adds
 * up, and `defer` (Node: process.nextTick) hands the sum to `report` after
 * the current callback. A metric's update ran for every 16 KiB frame a relay
 * forwarded (about 2 % of its CPU in relay-throughput, docs/benchmarks.md);
 * the frames of one socket read now cost one.
 */
export function tickTally(report: (bytes: number) => void, defer: (callback: () => void) => void): (bytes: number) => void {
  let total = 0;
  const flush = (): void => {
    const bytes = total;
    total = 0;
    report(bytes);
  };
  return (bytes) => {
    if (bytes === 0) return;
    if (total === 0) defer(flush);
    total += bytes;
  };
}
