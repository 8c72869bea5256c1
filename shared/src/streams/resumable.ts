import { StreamEndpoint, type StreamEndpointOptions } from './endpoint.js';
import { encodeStreamMessage } from './messages.js';
import { StreamLimits } from './session.js';

/** Runs `callback` after `ms`; returns a cancel function. Injected because shared/ has no timer globals. */
export type SetTimer = (callback: () => void, ms: number) => () => void;

/** The data connection (leg) a ResumableEnd speaks on now; sends on a leg that is going away are dropped by it. */
export interface ResumableLeg {
  sendText(text: string): void;
  sendData(chunk: Uint8Array): void;
}

/**
 * The resume and acknowledgement protocol of one end of a stream, over
 * whichever leg is current. Both ends run this one implementation: the
 * client (StreamClient) and the agent's side of a session
 * (agent/src/streams/session.ts).
 *
 *   beginLeg → `resume {offset: bytes received}` goes out first on the new leg
 *   peer's `resume {offset}` → resumeFrom: everything sent past that offset goes out again, in order
 *   data from the peer → received: `ack` after ackEveryBytes, or after ackIdleMs of quiet
 */
export class ResumableEnd {
  readonly endpoint: StreamEndpoint;
  readonly #setTimer: SetTimer;
  #leg: ResumableLeg | undefined;
  #cancelAck: (() => void) | undefined;
  /** The consumer is backed up: acks are withheld so the peer's window closes. */
  #held = false;

  constructor(setTimer: SetTimer, options: StreamEndpointOptions = {}) {
    this.#setTimer = setTimer;
    this.endpoint = new StreamEndpoint(options);
  }

  /** A new leg: tells the peer how much arrived, so it sends again only what did not. */
  beginLeg(leg: ResumableLeg): void {
    this.endLeg();
    this.#leg = leg;
    leg.sendText(encodeStreamMessage({ type: 'resume', offset: this.endpoint.startLeg() }));
  }

  /** The leg is gone (or the stream over): nothing more is sent, no ack is pending on a timer. */
  endLeg(): void {
    this.#cancelAck?.();
    this.#cancelAck = undefined;
    this.#leg = undefined;
  }

  /**
   * The peer's resume: sends again what it has not received. Throws
   * MALFORMED_MESSAGE when it claims bytes that were never sent: the stream
   * cannot go on.
   */
  resumeFrom(offset: number): void {
    const replay = this.endpoint.onPeerResume(offset);
    for (const chunk of replay) this.#leg?.sendData(chunk);
  }

  /** `length` bytes arrived from the peer (or were counted for it): acknowledged now or when it goes quiet. */
  received(length: number): void {
    if (this.endpoint.recordReceived(length)) this.ackNow();
    else this.#armAck();
  }

  /** Withhold acks while the consumer is backed up; releasing acknowledges what is pending. */
  holdAcks(hold: boolean): void {
    const wasHeld = this.#held;
    this.#held = hold;
    if (wasHeld && !hold && this.endpoint.ackPending) this.ackNow();
  }

  ackNow(): void {
    this.#cancelAck?.();
    this.#cancelAck = undefined;
    if (this.#held) return;
    this.#leg?.sendText(encodeStreamMessage({ type: 'ack', offset: this.endpoint.takeAck() }));
  }

  #armAck(): void {
    if (this.#cancelAck) return;
    this.#cancelAck = this.#setTimer(() => {
      this.#cancelAck = undefined;
      if (this.endpoint.ackPending) this.ackNow();
    }, StreamLimits.ackIdleMs);
  }
}
