import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeStreamMessage, type StreamTokenClaims } from '@lightsout/shared';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { waitFor } from '@lightsout/lab/wait';
import { StreamRecorder } from './recorder.js';
import { FileRecordingStorage, type RecordingStorage, type RecordingWriter } from './storage.js';

const claims = { sid: 'AAAAAAAAAAAAAAAAAAAAAA', srv: 'web-01', ten: 'demo', knd: 'sol', usr: 'operator' } as StreamTokenClaims;
const scratch = scratchDirectories('lightsout-recorder-');
afterEach(scratch.removeAll);

describe('StreamRecorder failures', () => {
  it('a recording that cannot be opened (EMFILE) is reported and the session goes on unrecorded', () => {
    const reports: [unknown, string][] = [];
    const storage: RecordingStorage = {
      writer: () => {
        throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      },
      list: async () => [],
      get: async () => undefined,
      read: async () => undefined,
      lastWrittenAt: async () => undefined,
      size: async () => undefined,
      remove: async () => false,
    };
    const recorder = new StreamRecorder(storage, () => true, (error, sessionId) => reports.push([error, sessionId]));
    expect(recorder.hooksFor(claims)).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect((reports[0]![0] as { code: string }).code).toBe('EMFILE');
    expect(reports[0]![1]).toBe(claims.sid);
  });

  it('a write that fails later is reported once and further bytes are dropped, not thrown', async () => {
    const directory = scratch.make();
    const storage = new FileRecordingStorage(join(directory, 'recordings'));
    const reports: unknown[] = [];
    const recorder = new StreamRecorder(storage, () => true, (error) => reports.push(error));
    // The time index cannot be opened (a directory sits at its path): its write stream fails asynchronously.
    mkdirSync(join(directory, 'recordings', `${claims.sid}.times`));
    const hooks = recorder.hooksFor(claims)!;
    expect(hooks).toBeDefined();
    hooks.upstreamControl?.(encodeStreamMessage({ type: 'resume', offset: 0 }));
    hooks.downstream?.(Buffer.from([1, 2, 3]));
    await new Promise<void>((resolve) => {
      const deadline = Date.now() + 5_000;
      const check = () => (reports.length > 0 || Date.now() > deadline ? resolve() : setImmediate(check));
      check();
    });
    expect(reports).toHaveLength(1);
    expect(() => hooks.downstream?.(Buffer.from([4, 5]))).not.toThrow();
    hooks.end?.();
  });
});

describe('FileRecordingStorage', () => {

  const openDescriptors = () => readdirSync('/proc/self/fd').length;

  it('stores the bytes and their time index exactly, and holds no descriptor between writes', async () => {
    const directory = scratch.make();
    const storage = new FileRecordingStorage(join(directory, 'recordings'));
    const ids = Array.from({ length: 50 }, (_, index) => `rec${String(index).padStart(19, '0')}`);
    // Warm up: the first asynchronous file operations set up libuv's own descriptors (io_uring, thread pool).
    const warm = storage.writer({ id: 'warmupAAAAAAAAAAAAAAAA', sessionId: 'w', serverId: 'web-01', tenant: 'demo', kind: 'serial', user: 'operator', startedAt: 1 });
    warm.append(Buffer.from('x'), 1);
    await warm.idle();
    const before = openDescriptors();
    const writers = ids.map((id) => storage.writer({ id, sessionId: id, serverId: 'web-01', tenant: 'demo', kind: 'serial', user: 'operator', startedAt: 1 }));
    for (const writer of writers) {
      writer.append(Buffer.from('abc'), 1000);
      writer.append(Buffer.from('defg'), 1005);
    }
    await Promise.all(writers.map((writer) => writer.idle()));
    for (const id of ids) expect(await storage.read(id)).toEqual({ bytes: Buffer.from('abcdefg'), times: [[0, 1000], [3, 1005]] });
    // 50 open recordings, none of them holding a file once their appends are done (they held 100).
    await waitFor(() => `the descriptors to close (${openDescriptors()} open, ${before} before)`, () => openDescriptors() <= before, { timeoutMs: 5_000, intervalMs: 1 });
    writers[0]!.append(Buffer.from('h'), 1010);
    writers[0]!.close();
    await writers[0]!.idle();
    expect(await storage.read(ids[0]!)).toEqual({ bytes: Buffer.from('abcdefgh'), times: [[0, 1000], [3, 1005], [7, 1010]] });
    // A relay restart continues the recording at its length: bytes it already holds are not stored twice.
    const again = storage.writer({ id: ids[0]!, sessionId: ids[0]!, serverId: 'web-01', tenant: 'demo', kind: 'serial', user: 'operator', startedAt: 1 });
    again.write(6, Buffer.from('ghij'), 1020);
    await again.idle();
    expect(await storage.read(ids[0]!)).toEqual({ bytes: Buffer.from('abcdefghij'), times: [[0, 1000], [3, 1005], [7, 1010], [8, 1020]] });
  });
});

describe('StreamRecorder offsets', () => {
  it('stores each byte the client was sent once, in order, although the client sends a resume in the middle of a leg', async () => {
    const directory = scratch.make();
    const files = new FileRecordingStorage(join(directory, 'recordings'));
    // Every writer handed out, so the test awaits what each stored.
    const writers: RecordingWriter[] = [];
    const storage: RecordingStorage = Object.assign(Object.create(files) as FileRecordingStorage, {
      writer: (...args: Parameters<RecordingStorage['writer']>) => {
        const writer = files.writer(...args);
        writers.push(writer);
        return writer;
      },
    });
    const recorder = new StreamRecorder(storage, () => true);
    const resume = (offset: number) => encodeStreamMessage({ type: 'resume', offset });
    // Leg 1: the resume that opens it, then output. A resume mid-connection is refused by the splice (and the leg
    // ends), but output already in flight still passes the recorder: it belongs at its true offset (4), not at 2.
    const first = recorder.hooksFor(claims)!;
    first.upstreamControl?.(resume(0));
    first.downstream?.(Buffer.from('AAAA'));
    first.upstreamControl?.(resume(2));
    first.downstream?.(Buffer.from('BB'));
    first.end?.();
    // Leg 2 resumes at the true offset.
    const second = recorder.hooksFor(claims)!;
    second.upstreamControl?.(resume(6));
    second.downstream?.(Buffer.from('rm -rf /'));
    second.end?.();
    await Promise.all(writers.map((writer) => writer.idle()));
    expect((await files.read(claims.sid))!.bytes.toString()).toBe('AAAABBrm -rf /');
  });
});
