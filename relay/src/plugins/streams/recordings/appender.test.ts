import { describe, expect, it } from 'vitest';
import { type AppendSchedule, type AppendTarget, RecordingAppender } from './appender.js';

/** A schedule the test drives: nothing runs until it says so. */
function manualSchedule(flushBytes = 64) {
  const turns: (() => void)[] = [];
  const delays = new Map<number, () => void>();
  let nextDelay = 0;
  const schedule: AppendSchedule = {
    flushDelayMs: 100,
    flushBytes,
    afterTurn: (callback) => void turns.push(callback),
    after: (_ms, callback) => {
      const id = nextDelay++;
      delays.set(id, callback);
      return () => delays.delete(id);
    },
  };
  return {
    schedule,
    endTurn: () => {
      for (const callback of turns.splice(0)) callback();
    },
    delayPassed: () => {
      const due = [...delays.values()];
      delays.clear();
      for (const callback of due) callback();
    },
    get waitingDelays() {
      return delays.size;
    },
  };
}

/** A target that stores at once and keeps every append it was given. */
function memoryTarget() {
  const appends: { offset: number; text: string; times: [number, number][] }[] = [];
  const target: AppendTarget = {
    open: () => 0,
    append: async (offset, bytes, times) => {
      appends.push({ offset, text: Buffer.from(bytes).toString('latin1'), times });
    },
  };
  return { target, appends };
}

const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('RecordingAppender: when bytes are stored', () => {
  it('keystroke-sized output waits for the delay and is stored in one append, each piece keeping its time', async () => {
    const clock = manualSchedule();
    const { target, appends } = memoryTarget();
    const appender = new RecordingAppender('r', target, () => undefined, clock.schedule);
    for (const [index, key] of ['l', 's', '\r'].entries()) {
      appender.write(undefined, Buffer.from(key), 1000 + index);
      clock.endTurn();
    }
    await settled();
    expect(appends).toEqual([]);
    expect(clock.waitingDelays).toBe(1);
    clock.delayPassed();
    await settled();
    expect(appends).toEqual([{ offset: 0, text: 'ls\r', times: [[0, 1000], [1, 1001], [2, 1002]] }]);
  });

  it('flushBytes or more is stored after the turn, without waiting for the delay', async () => {
    const clock = manualSchedule(64);
    const { target, appends } = memoryTarget();
    const appender = new RecordingAppender('r', target, () => undefined, clock.schedule);
    appender.write(undefined, Buffer.from('x'.repeat(10)), 1);
    appender.write(undefined, Buffer.from('y'.repeat(60)), 2);
    expect(clock.waitingDelays).toBe(0);
    clock.endTurn();
    await settled();
    expect(appends.map((append) => append.text.length)).toEqual([70]);
  });

  it('idle() and close() store what waits at once', async () => {
    const clock = manualSchedule();
    const { target, appends } = memoryTarget();
    const appender = new RecordingAppender('r', target, () => undefined, clock.schedule);
    appender.write(undefined, Buffer.from('a'), 1);
    await appender.idle();
    expect(appends.map((append) => append.text)).toEqual(['a']);
    appender.write(undefined, Buffer.from('b'), 2);
    appender.close();
    await settled();
    expect(appends.map((append) => append.text)).toEqual(['a', 'b']);
    expect(clock.waitingDelays).toBe(0);
  });

  it('bytes written while an append is in flight follow it when their delay is over, in order and once', async () => {
    const clock = manualSchedule();
    const appends: string[] = [];
    let finish: (() => void) | undefined;
    const target: AppendTarget = {
      open: () => 0,
      append: (_offset, bytes) => {
        appends.push(Buffer.from(bytes).toString('latin1'));
        return new Promise<void>((resolve) => (finish = resolve));
      },
    };
    const appender = new RecordingAppender('r', target, () => undefined, clock.schedule);
    appender.write(undefined, Buffer.from('a'), 1);
    clock.delayPassed();
    expect(appends).toEqual(['a']);
    appender.write(undefined, Buffer.from('b'), 2);
    // Due while 'a' is still being stored: 'b' goes right after it.
    clock.delayPassed();
    expect(appends).toEqual(['a']);
    finish!();
    await settled();
    expect(appends).toEqual(['a', 'b']);
    appender.write(undefined, Buffer.from('c'), 3);
    finish!();
    await settled();
    // Not due yet: 'c' waits for its own delay.
    expect(appends).toEqual(['a', 'b']);
    clock.delayPassed();
    finish!();
    await appender.idle();
    expect(appends).toEqual(['a', 'b', 'c']);
  });
});

describe('RecordingAppender: offsets', () => {
  it('reports bytes past what is stored as a RECORDING_GAP once, goes on recording after what is stored, and still stores a replay once', async () => {
    const clock = manualSchedule();
    const appends: { offset: number; text: string }[] = [];
    const errors: Error[] = [];
    const target: AppendTarget = {
      // 'hello ' is stored; the bytes in between never reached storage (a crash took them).
      open: () => 6,
      append: async (offset, bytes) => void appends.push({ offset, text: Buffer.from(bytes).toString('latin1') }),
    };
    const gaps: Error[] = [];
    const appender = new RecordingAppender('gap-recording', target, (error) => errors.push(error), clock.schedule, (gap) => gaps.push(gap));
    appender.write(8, Buffer.from('rld'), 1);
    // A replay of what is already kept (stream offsets 8..10) is not stored again; what follows is.
    appender.write(8, Buffer.from('rld!'), 2);
    appender.write(12, Buffer.from('?'), 3);
    await appender.idle();
    expect(appends.map((entry) => entry.text).join('')).toBe('rld!?');
    expect(appends[0]!.offset).toBe(6);
    expect(errors).toEqual([]);
    expect(gaps.map((gap) => [(gap as Error & { code?: string }).code, gap.message])).toEqual([['RECORDING_GAP', 'recording gap-recording: bytes at offset 8, but only 6 are stored']]);
  });
});

describe('RecordingAppender: size limit', () => {
  it('stores exactly up to the limit, reports QUOTA_EXCEEDED once naming the recording and the limit, and ignores later writes', async () => {
    const clock = manualSchedule();
    const { target, appends } = memoryTarget();
    const errors: Error[] = [];
    const appender = new RecordingAppender('full-recording', target, (error) => errors.push(error), clock.schedule, undefined, 10);
    appender.write(undefined, Buffer.from('0123456'), 1);
    // Crosses the limit: '789' is kept, 'abc' is not.
    appender.write(undefined, Buffer.from('789abc'), 2);
    appender.write(undefined, Buffer.from('def'), 3);
    await appender.idle();
    appender.write(undefined, Buffer.from('ghi'), 4);
    appender.close();
    await settled();
    expect(appends.map((append) => append.text).join('')).toBe('0123456789');
    expect(appender.size).toBe(10);
    expect(errors.map((error) => [(error as Error & { code?: string }).code, error.message])).toEqual([['QUOTA_EXCEEDED', 'recording full-recording reached its limit of 10 bytes; the session goes on unrecorded']]);
  });

  it('a continued recording already at the limit stores nothing more', async () => {
    const clock = manualSchedule();
    const appends: string[] = [];
    const target: AppendTarget = { open: () => 10, append: async (_offset, bytes) => void appends.push(Buffer.from(bytes).toString('latin1')) };
    const errors: Error[] = [];
    const appender = new RecordingAppender('full-recording', target, (error) => errors.push(error), clock.schedule, undefined, 10);
    // A replay of what is stored is no growth; the byte after it is.
    appender.write(0, Buffer.from('0123456789'), 1);
    expect(errors).toEqual([]);
    appender.write(10, Buffer.from('x'), 2);
    await appender.idle();
    expect(appends).toEqual([]);
    expect(errors.map((error) => (error as Error & { code?: string }).code)).toEqual(['QUOTA_EXCEEDED']);
  });
});
