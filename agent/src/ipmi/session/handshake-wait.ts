import { LightsoutError } from '@lightsout/shared';

/** A single awaited handshake reply: resolves with the first datagram `accept` maps to a value, or times out. */
export class HandshakeWaiter {
  private current: { accept: (datagram: Uint8Array) => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void; timer: ReturnType<typeof setTimeout> } | undefined;

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

  /** Offers a datagram; returns true when it completed the wait. Errors thrown by `accept` reject the wait. */
  offer(datagram: Uint8Array): boolean {
    const current = this.current;
    if (current === undefined) return false;
    let value: unknown;
    try {
      value = current.accept(datagram);
    } catch (error) {
      clearTimeout(current.timer);
      this.current = undefined;
      current.reject(error);
      return true;
    }
    if (value === undefined) return false;
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
