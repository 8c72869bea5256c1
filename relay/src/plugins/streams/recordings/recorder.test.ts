import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeStreamMessage, type StreamTokenClaims } from '@lightsout/shared';
import { StreamRecorder } from './recorder.js';
import { FileRecordingStorage, type RecordingStorage } from './storage.js';

const claims = { sid: 'AAAAAAAAAAAAAAAAAAAAAA', srv: 'web-01', ten: 'demo', knd: 'sol', usr: 'operator' } as StreamTokenClaims;
const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe('StreamRecorder failures', () => {
  it('a recording that cannot be opened (EMFILE) is reported and the session goes on unrecorded', () => {
    const reports: [unknown, string][] = [];
    const storage: RecordingStorage = {
      writer: () => {
        throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      },
      list: () => [],
      get: () => undefined,
      read: () => undefined,
    };
    const recorder = new StreamRecorder(storage, () => true, (error, sessionId) => reports.push([error, sessionId]));
    expect(recorder.hooksFor(claims)).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect((reports[0]![0] as { code: string }).code).toBe('EMFILE');
    expect(reports[0]![1]).toBe(claims.sid);
  });

  it('a write that fails later is reported once and further bytes are dropped, not thrown', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'lightsout-recorder-'));
    directories.push(directory);
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
