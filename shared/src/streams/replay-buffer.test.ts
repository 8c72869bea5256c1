import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LightsoutError } from '../errors.js';
import { ReplayBuffer } from './replay-buffer.js';
import { StreamEndpoint } from './endpoint.js';
import { StreamLimits } from './session.js';

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * A bulk sender: fills its window, then `drain` acknowledges, eight rounds.
 * `madeAfterFirst`: pages allocated once the first round is done (the small
 * pages a window starts in are gone by then); `largest`: storage after a drain.
 */
function bulkSender(drain: (buffer: ReplayBuffer) => void): { buffer: ReplayBuffer; madeAfterFirst: number; largest: number } {
  const buffer = new ReplayBuffer();
  const chunk = new Uint8Array(StreamLimits.sendChunkBytes);
  let madeAfterFirst = 0;
  let largest = 0;
  for (let round = 0; round < 8; round += 1) {
    while (buffer.size < StreamLimits.windowBytes) buffer.push(chunk);
    if (round === 1) madeAfterFirst = buffer.pagesAllocated;
    drain(buffer);
    largest = Math.max(largest, buffer.allocatedBytes);
  }
  return { buffer, madeAfterFirst, largest };
}

describe('ReplayBuffer', () => {
  it('replays exactly the bytes after any acknowledged offset (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 50 }), { maxLength: 30 }), fc.nat(), fc.nat(), (chunks, ackSeed, resumeSeed) => {
        const buffer = new ReplayBuffer();
        for (const chunk of chunks) buffer.push(chunk);
        const all = concat(chunks);
        const ack = all.length === 0 ? 0 : ackSeed % (all.length + 1);
        buffer.acknowledge(ack);
        expect(buffer.size).toBe(all.length - ack);
        const resumeAt = ack + (all.length - ack === 0 ? 0 : resumeSeed % (all.length - ack + 1));
        expect(concat(buffer.from(resumeAt))).toEqual(all.subarray(resumeAt));
        expect(buffer.startOffset).toBe(resumeAt);
      }),
      { numRuns: 300 },
    );
  });

  it('holds exactly the unacknowledged bytes through any pushes, acks and resumes, within about twice their size and spares within the window (property)', () => {
    type Step = { push: number } | { ack: number } | { resume: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 20_000 }).map((push) => ({ push })) },
      { weight: 3, arbitrary: fc.nat().map((ack) => ({ ack })) },
      { weight: 1, arbitrary: fc.nat().map((resume) => ({ resume })) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const buffer = new ReplayBuffer(5);
        let sent = 0;
        let start = 0;
        const byteAt = (offset: number) => (offset * 7 + (offset >> 9)) & 0xff;
        for (const each of steps) {
          if ('push' in each) {
            buffer.push(Uint8Array.from({ length: each.push }, (_, index) => byteAt(sent + index)));
            sent += each.push;
          } else {
            const offset = start + (('ack' in each ? each.ack : each.resume) % (sent - start + 1));
            if ('ack' in each) buffer.acknowledge(5 + offset);
            else {
              const replayed = concat(buffer.from(5 + offset));
              const expected = Uint8Array.from({ length: sent - offset }, (_, index) => byteAt(offset + index));
              // compared as one buffer: element-wise equality of megabytes would take the test's time
              expect(Buffer.from(replayed).equals(Buffer.from(expected))).toBe(true);
            }
            start = offset;
          }
          expect([buffer.startOffset, buffer.endOffset, buffer.size]).toEqual([5 + start, 5 + sent, sent - start]);
          // pages about as large as what is held, a partly used page at each end; spare pages within the window
          expect(buffer.allocatedBytes - buffer.spareBytes).toBeLessThanOrEqual(Math.max(1024, 2 * buffer.size + 2 * 64 * 1024));
          expect(buffer.spareBytes).toBeLessThanOrEqual(Math.max(StreamLimits.ackEveryBytes, StreamLimits.windowBytes - buffer.size));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a bulk sender filling and draining its window keeps it in pages, never one block the size of the window', () => {
    const buffer = new ReplayBuffer();
    const chunk = new Uint8Array(StreamLimits.sendChunkBytes);
    let largest = 0;
    for (let round = 0; round < 4; round += 1) {
      while (buffer.size < StreamLimits.windowBytes) buffer.push(chunk);
      // steady state: an ack frees what the next pushes fill
      for (let step = 0; step < 16; step += 1) {
        buffer.acknowledge(buffer.startOffset + StreamLimits.ackEveryBytes);
        while (buffer.size < StreamLimits.windowBytes) buffer.push(chunk);
        largest = Math.max(largest, buffer.allocatedBytes);
      }
      buffer.acknowledge(buffer.endOffset - 1000);
      // what is held moves into a small page; the freed pages wait for the next burst, within the window
      expect(buffer.allocatedBytes - buffer.spareBytes).toBeLessThanOrEqual(4 * 1000);
      expect(buffer.allocatedBytes).toBeLessThanOrEqual(StreamLimits.windowBytes + 1024);
    }
    expect(largest).toBeLessThanOrEqual(StreamLimits.windowBytes + 2 * 64 * 1024 + StreamLimits.ackEveryBytes);
    buffer.acknowledge(buffer.endOffset);
    expect(buffer.allocatedBytes).toBeLessThanOrEqual(1024);
  });

  it('a bulk sender refills what a burst of acks freed with the freed pages, allocating none', () => {
    // four acks read in one go: a MiB freed at once
    const { buffer, madeAfterFirst, largest } = bulkSender((held) => {
      for (let ack = 0; ack < 4; ack += 1) held.acknowledge(held.startOffset + StreamLimits.ackEveryBytes);
    });
    expect(buffer.pagesAllocated).toBe(madeAfterFirst);
    expect(largest).toBeLessThanOrEqual(StreamLimits.windowBytes + 2 * 64 * 1024 + StreamLimits.ackEveryBytes);
  });

  it('a sender bound by its own CPU, whose window drains between bursts, reuses its pages too', () => {
    // the relay caught up: all but a few bytes acknowledged before the sender's next burst
    const { buffer, madeAfterFirst, largest } = bulkSender((held) => held.acknowledge(held.endOffset - 100));
    expect(largest).toBeLessThanOrEqual(StreamLimits.windowBytes + 1024);
    // each lull after the first round moved the few bytes left into one small page; every large page was used again
    expect(buffer.pagesAllocated).toBe(madeAfterFirst + 7);
    // nothing held: nothing kept
    buffer.acknowledge(buffer.endOffset);
    expect(buffer.allocatedBytes).toBeLessThanOrEqual(1024);
  });

  it('costs the bytes it holds, not the number of chunks they came in (a keystroke at a time)', () => {
    const buffer = new ReplayBuffer();
    for (let index = 0; index < 100_000; index += 1) buffer.push(Uint8Array.of(index & 0xff));
    expect(buffer.allocatedBytes).toBeLessThanOrEqual(2 * buffer.size);
    buffer.acknowledge(99_990);
    // the ten bytes left in one small page; the one full-size page kept for a next burst until nothing is held
    expect(buffer.allocatedBytes - buffer.spareBytes).toBeLessThanOrEqual(1024);
    expect(buffer.spareBytes).toBeLessThanOrEqual(64 * 1024);
    expect(buffer.from(99_995).map((frame) => Array.from(frame))).toEqual([[99_995, 99_996, 99_997, 99_998, 99_999].map((value) => value & 0xff)]);
    buffer.acknowledge(100_000);
    expect(buffer.allocatedBytes).toBeLessThanOrEqual(1024);
  });

  it('replays in frames no larger than a sender may send', () => {
    const buffer = new ReplayBuffer();
    const frame = StreamLimits.sendChunkBytes;
    buffer.push(new Uint8Array(3 * frame + 5));
    expect(buffer.from(0).map((each) => each.length)).toEqual([frame, frame, frame, 5]);
    // smaller than one 64 KiB socket read, so a frame rarely straddles two (session.ts)
    expect(frame).toBeLessThan(64 * 1024);
  });

  it('refuses to resume from bytes it no longer holds, or an ack beyond what was sent', () => {
    const buffer = new ReplayBuffer();
    buffer.push(new Uint8Array(10));
    buffer.acknowledge(6);
    expect(() => buffer.from(5)).toThrow(LightsoutError);
    expect(() => buffer.from(11)).toThrow(LightsoutError);
    expect(() => buffer.acknowledge(11)).toThrow(LightsoutError);
    buffer.acknowledge(3); // late ack: ignored
    expect(buffer.size).toBe(4);
  });
});

describe('StreamEndpoint', () => {
  it('closes the window at windowBytes unacknowledged and reopens on ack', () => {
    const endpoint = new StreamEndpoint({ windowBytes: 100, ackEveryBytes: 40 });
    endpoint.recordSent(new Uint8Array(60));
    expect(endpoint.canSend).toBe(true);
    endpoint.recordSent(new Uint8Array(40));
    expect(endpoint.canSend).toBe(false);
    expect(endpoint.onPeerAck(50)).toBe(true);
    expect(endpoint.unacknowledged).toBe(50);
  });

  it('says when an ack is due and what offset it carries', () => {
    const endpoint = new StreamEndpoint({ ackEveryBytes: 40 });
    expect(endpoint.recordReceived(30)).toBe(false);
    expect(endpoint.ackPending).toBe(true);
    expect(endpoint.recordReceived(10)).toBe(true);
    expect(endpoint.takeAck()).toBe(40);
    expect(endpoint.ackPending).toBe(false);
  });

  it('refuses a peer that claims more bytes than were sent', () => {
    const endpoint = new StreamEndpoint();
    endpoint.recordSent(new Uint8Array(5));
    expect(() => endpoint.onPeerResume(6)).toThrow(LightsoutError);
  });
});
