import { describe, expect, it } from 'vitest';
import { decodeAgentBoundStreamMessage } from './messages.js';
import { ResumableEnd, type SetTimer } from './resumable.js';
import { StreamLimits } from './session.js';

/** A leg that records what went out, and timers the test fires by hand. */
function harness(options: { ackEveryBytes?: number } = {}) {
  const sent: Array<string | number[]> = [];
  const timers: Array<{ callback: () => void; ms: number; cancelled: boolean }> = [];
  const setTimer: SetTimer = (callback, ms) => {
    const timer = { callback, ms, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  const end = new ResumableEnd(setTimer, options);
  const leg = { sendText: (text: string) => sent.push(text), sendData: (chunk: Uint8Array) => sent.push([...chunk]) };
  const fire = () => {
    for (const timer of timers.splice(0)) if (!timer.cancelled) timer.callback();
  };
  return { end, leg, sent, timers, fire, controls: () => sent.filter((entry): entry is string => typeof entry === 'string').map(decodeAgentBoundStreamMessage) };
}

describe('ResumableEnd', () => {
  it('opens each leg with its received offset and sends again only what the peer missed, in order', () => {
    const { end, leg, sent } = harness();
    end.beginLeg(leg);
    end.endpoint.recordSent(Uint8Array.of(1, 2));
    end.endpoint.recordSent(Uint8Array.of(3));
    end.received(5);
    end.endLeg();
    sent.length = 0;
    end.beginLeg(leg);
    end.resumeFrom(1);
    // the replay is re-framed in sendChunkBytes pieces: here one frame of the two missed bytes
    expect(sent).toEqual([JSON.stringify({ type: 'resume', offset: 5 }), [2, 3]]);
    expect(() => end.resumeFrom(4)).toThrow(expect.objectContaining({ code: 'MALFORMED_MESSAGE' }));
  });

  it('acknowledges after ackEveryBytes at once, a smaller amount once quiet for ackIdleMs, nothing while held', () => {
    const { end, leg, timers, fire, controls } = harness({ ackEveryBytes: 10 });
    end.beginLeg(leg);
    end.received(4);
    expect(timers.map((timer) => timer.ms)).toEqual([StreamLimits.ackIdleMs]);
    fire();
    end.received(10);
    expect(controls()).toEqual([
      { type: 'resume', offset: 0 },
      { type: 'ack', offset: 4 },
      { type: 'ack', offset: 14 },
    ]);
    end.holdAcks(true);
    end.received(20);
    fire();
    expect(controls()).toHaveLength(3);
    end.holdAcks(false);
    expect(controls().at(-1)).toEqual({ type: 'ack', offset: 34 });
  });

  it('sends nothing once the leg ended: a pending idle ack is cancelled', () => {
    const { end, leg, sent, fire } = harness();
    end.beginLeg(leg);
    end.received(1);
    end.endLeg();
    fire();
    end.ackNow();
    expect(sent).toHaveLength(1);
  });
});
