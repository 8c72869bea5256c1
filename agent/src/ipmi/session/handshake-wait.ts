import { LightsoutError } from '@lightsout/shared';

/**
 * A single awaited handshake reply: resolves with the first datagram `accept` maps to a value, or times out.
 * `onIgnored` hears of every other datagram offered meanwhile: `accept` returned undefined (error undefined)
 * or threw (the error).
 */
export class HandshakeWaiter {
  private current: { accept: (datagram: Uint8Array) => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void; timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(private readonly onIgnored?: (error: unknown) => void) {}

  wait<T>(accept: (datagram: Uint8Array) => T | undefined, timeoutMs: number, step: string): Promise<T> {
    if (this.current !== undefined) this.cancel(new LightsoutError('BMC_PROTOCOL_ERROR', 'superseded'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.current = undefined;
        reject(new LightsoutError('BMC_TIMEOUT', `no reply to ${step} within ${timeoutMs} ms`, { details: { step } }));
      }, timeoutMs);
      this.current = { accept, resolve: resolve as (value: unknown) => void, reject, timer };
    });
  }

  /**
   * Offers a datagram; returns true when it completed the wait. A datagram `accept` throws on is not the
   * reply either: anyone on the path (or a late answer of an earlier session, authenticated with keys this
   * handshake never had) can send one, so it is ignored and the wait goes on until its own timeout. Only
   * the awaited reply, decoded, can fail a step (its status, its HMAC), and that is the caller's to judge.
   */
  offer(datagram: Uint8Array): boolean {
    const current = this.current;
    if (current === undefined) return false;
    let value: unknown;
    try {
      value = current.accept(datagram);
    } catch (error) {
      this.onIgnored?.(error);
      return false;
    }
    if (value === undefined) {
      this.onIgnored?.(undefined);
      return false;
    }
    clearTimeout(current.timer);
    this.current = undefined;
    current.resolve(value);
    return true;
  }

  cancel(error: unknown): void {
    const current = this.current;
    if (current === undefined) return;
    clearTimeout(current.timer);
    this.current = undefined;
    current.reject(error);
  }
}
