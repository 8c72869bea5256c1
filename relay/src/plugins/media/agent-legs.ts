import type { IncomingMessage, ServerResponse } from 'node:http';
import { LightsoutError } from '@lightsout/shared';

/**
 * The agent's end of each upload on this gateway: the response to the pull
 * the agent opened on its own data connection (`GET /v1/agent/media/{id}`
 * with `Range: bytes=N-`, N being where its cache file ends). PATCH bodies
 * are written into it as they arrive, so the bytes go client → gateway →
 * agent's cache with the sockets' backpressure in between and no copy here:
 * the gateway never dials the agent and never stores a byte.
 */
export class AgentLeg {
  /** The image offset of the next byte: the agent's Range start plus what was written since. */
  offset: number;

  constructor(
    readonly response: ServerResponse,
    start: number,
    readonly size: number,
  ) {
    this.offset = start;
  }

  get open(): boolean {
    return !this.response.destroyed && !this.response.writableEnded;
  }

  /** Writes `chunk`; false when the agent's socket is full (wait for 'drain'). The last byte ends the response. */
  write(chunk: Buffer): boolean {
    this.offset += chunk.byteLength;
    const more = this.response.write(chunk);
    if (this.offset === this.size) this.response.end();
    return more;
  }
}

export class AgentLegs {
  private readonly legs = new Map<string, AgentLeg>();
  private readonly waiters = new Map<string, Set<(leg: AgentLeg) => void>>();

  /** The agent's pull for `id` arrived: it replaces an older one (the agent retried; that connection is dead to it). */
  attach(id: string, response: ServerResponse, start: number, size: number): AgentLeg {
    const older = this.legs.get(id);
    if (older && older.response !== response) older.response.destroy();
    const leg = new AgentLeg(response, start, size);
    this.legs.set(id, leg);
    response.once('close', () => {
      if (this.legs.get(id) === leg) this.legs.delete(id);
    });
    const waiting = this.waiters.get(id);
    this.waiters.delete(id);
    for (const wake of waiting ?? []) wake(leg);
    return leg;
  }

  get(id: string): AgentLeg | undefined {
    const leg = this.legs.get(id);
    return leg?.open ? leg : undefined;
  }

  /** The open leg of `id`, waiting up to `timeoutMs` for the agent to open one. */
  async next(id: string, timeoutMs: number, signal: AbortSignal): Promise<AgentLeg> {
    const open = this.get(id);
    if (open) return open;
    return new Promise((resolve, reject) => {
      const waiting = this.waiters.get(id) ?? new Set<(leg: AgentLeg) => void>();
      this.waiters.set(id, waiting);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        waiting.delete(wake);
      };
      const wake = (leg: AgentLeg) => {
        done();
        resolve(leg);
      };
      const aborted = () => {
        done();
        reject(new LightsoutError('CONFLICT', 'the upload request ended before the agent was ready'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new LightsoutError('AGENT_TIMEOUT', `the agent did not open its data connection for this upload within ${Math.round(timeoutMs / 1000)} s`, { hint: 'retry: the upload resumes where the agent\'s copy ends' }));
      }, timeoutMs);
      waiting.add(wake);
      signal.addEventListener('abort', aborted, { once: true });
    });
  }

  /** The upload is gone (deleted, refused): the agent's pull ends, and its retry will be refused. */
  drop(id: string): void {
    this.legs.get(id)?.response.destroy();
    this.legs.delete(id);
  }

  closeAll(): void {
    for (const leg of this.legs.values()) leg.response.destroy();
    this.legs.clear();
  }
}

export interface Fed {
  /** Bytes of the body written to the leg. */
  received: number;
  /** The body was longer than `limit`: the chunk that crossed it was not written. */
  tooLong: boolean;
  /** The agent's connection closed before the body ended. */
  legLost: boolean;
}

/**
 * Writes the request body into the agent's leg, pausing the request while
 * the agent's socket is full (TCP backpressure end to end, nothing buffered
 * beyond the sockets' own). Resolves when the body ends, `stop` aborts (the
 * client went away, a newer request took the upload's lock, the caller was
 * revoked), the leg closes, or the body would pass `limit`.
 */
export function feed(request: IncomingMessage, leg: AgentLeg, limit: number, stop: AbortSignal): Promise<Fed> {
  return new Promise((resolve) => {
    let received = 0;
    let settled = false;
    const finish = (outcome: { tooLong?: boolean; legLost?: boolean } = {}) => {
      if (settled) return;
      settled = true;
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('close', onEnd);
      leg.response.off('drain', onDrain);
      leg.response.off('close', onLegClose);
      stop.removeEventListener('abort', onStop);
      request.pause();
      resolve({ received, tooLong: outcome.tooLong === true, legLost: outcome.legLost === true });
    };
    const onData = (chunk: Buffer) => {
      if (received + chunk.byteLength > limit) return finish({ tooLong: true });
      received += chunk.byteLength;
      if (!leg.write(chunk) && leg.open) request.pause();
    };
    const onDrain = () => request.resume();
    const onEnd = () => finish();
    const onLegClose = () => finish({ legLost: leg.offset < leg.size });
    const onStop = () => finish();
    if (stop.aborted || !leg.open) return finish({ legLost: !leg.open });
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('close', onEnd);
    leg.response.on('drain', onDrain);
    leg.response.once('close', onLegClose);
    stop.addEventListener('abort', onStop, { once: true });
    request.resume();
  });
}
