/**
 * Reconnect delays: exponential backoff with "full jitter" — the delay for
 * attempt n is uniform in [0, min(cap, base·2ⁿ)). Full jitter spreads a fleet
 * of agents that lost the relay at the same moment across the whole window,
 * so a restarted relay is not hit by every agent in the same millisecond.
 *
 * Backoff applies to repeated failures only: the first retry after a healthy
 * connection drops, and each untried gateway of the list, go at once
 * (connection.ts). The cap bounds the worst-case reconnect once a gateway is
 * back — cap plus one connect attempt — and must stay well inside the stream
 * grace period (StreamTiming.graceMs, 30 s; docs/streams.md): 5 s + 10 s.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 5_000 };

/** TCP connect, upgrade and welcome of one attempt: past this the gateway counts as down and the next one is tried. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The upper bound of the delay before reconnect attempt `attempt` (0-based). */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  // 2^31 already exceeds any sane cap; clamping the exponent keeps the math finite.
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 31);
  return Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
}

/** `random` is uniform in [0, 1) (Math.random's contract); injectable so tests are exact. */
export function backoffDelay(attempt: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const unit = Math.min(Math.max(random, 0), 1);
  return Math.floor(unit * backoffCeiling(attempt, policy));
}
