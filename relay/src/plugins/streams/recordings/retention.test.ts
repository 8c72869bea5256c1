import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { buildApp } from '../../../app.js';
import { RECORDING_POLICY_FILE, loadRecordingPolicy, recordingPolicy } from './policy.js';
import { sweepExpiredRecordings } from './retention.js';
import { FileRecordingStorage } from './storage.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 22, 12);
const scratch = scratchDirectories('lightsout-retention-');
afterEach(scratch.removeAll);

/** A finished recording of `tenant` whose files were last written `ageDays` before `now`. */
async function recorded(storage: FileRecordingStorage, directory: string, id: string, tenant: string, ageDays: number, now = NOW): Promise<void> {
  const writer = storage.writer({ id, sessionId: id, serverId: 'web-01', tenant, kind: 'sol', user: 'alice', startedAt: now - ageDays * DAY - 60_000 });
  writer.append(Buffer.from(`output of ${id}`), 1);
  writer.close();
  await writer.idle();
  expect((await storage.read(id))?.bytes.length).toBe(`output of ${id}`.length);
  const at = new Date(now - ageDays * DAY);
  for (const suffix of ['.json', '.bytes', '.times']) utimesSync(join(directory, id + suffix), at, at);
}
const id = (n: number) => `rec${String(n).padStart(19, '0')}`;

describe('recording retention', () => {
  it('skips a recording whose meta is unreadable (left empty by a crash) in the listing and the sweep, and names it', async () => {
    const directory = scratch.make();
    const unreadable: string[] = [];
    const storage = new FileRecordingStorage(directory, { onUnreadableMeta: (recording, error) => unreadable.push(`${recording}: ${error.name}`) });
    await recorded(storage, directory, id(1), 'alpha', 31);
    writeFileSync(join(directory, `${id(2)}.json`), '');

    const expired = await sweepExpiredRecordings(storage, () => 30, () => false, NOW);

    expect(expired.map((entry) => entry.meta.id)).toEqual([id(1)]);
    for (const suffix of ['.json', '.bytes', '.times']) expect(existsSync(join(directory, id(1) + suffix))).toBe(false);
    expect(await storage.list()).toEqual([]);
    expect(unreadable).toEqual([`${id(2)}: SyntaxError`, `${id(2)}: SyntaxError`]);
  });

  it('deletes what is past its tenant retention, keeps the rest, a live recording and tenants without retention', async () => {
    const directory = scratch.make();
    const storage = new FileRecordingStorage(directory);
    await recorded(storage, directory, id(1), 'alpha', 31); // past alpha's 30 days
    await recorded(storage, directory, id(2), 'alpha', 29);
    await recorded(storage, directory, id(3), 'bravo', 31); // bravo: the default 90 days
    await recorded(storage, directory, id(4), 'bravo', 91);
    await recorded(storage, directory, id(5), 'alpha', 400); // old, but its session is still live
    await recorded(storage, directory, id(6), 'charlie', 4000); // charlie keeps everything
    const policy = recordingPolicy({ '*': { retentionDays: 90 }, alpha: { retentionDays: 30 }, charlie: { retentionDays: null } });
    const live = new Set([id(5)]);

    const expired = await sweepExpiredRecordings(storage, policy.retentionDays, (recording) => live.has(recording), NOW);

    expect(expired.map((entry) => entry.meta.id).sort()).toEqual([id(1), id(4)]);
    expect(expired.find((entry) => entry.meta.id === id(1))?.lastWrittenAt).toBe(NOW - 31 * DAY);
    expect((await storage.list()).map((meta) => meta.id).sort()).toEqual([id(2), id(3), id(5), id(6)]);
    for (const suffix of ['.json', '.bytes', '.times']) expect(existsSync(join(directory, id(1) + suffix))).toBe(false);
    // A second sweep finds nothing more.
    expect(await sweepExpiredRecordings(storage, policy.retentionDays, (recording) => live.has(recording), NOW)).toEqual([]);
  });

  it('counts from when a recording last grew, not from when its session started', async () => {
    const directory = scratch.make();
    const storage = new FileRecordingStorage(directory);
    await recorded(storage, directory, id(7), 'alpha', 2);
    // The session started 100 days ago and ran until two days ago.
    expect((await storage.get(id(7)))!.startedAt).toBeLessThan(NOW - DAY);
    expect(await sweepExpiredRecordings(storage, () => 30, () => false, NOW)).toEqual([]);
    expect((await sweepExpiredRecordings(storage, () => 1, () => false, NOW)).map((entry) => entry.meta.id)).toEqual([id(7)]);
  });
});

describe('recording policy file', () => {
  const write = (text: string) => {
    const directory = scratch.make();
    writeFileSync(join(directory, RECORDING_POLICY_FILE), text);
    return directory;
  };

  it('falls back per key: tenant rule, then "*", then the built-in (text consoles yes, VNC no, keep forever)', () => {
    const none = loadRecordingPolicy(scratch.make());
    expect([none.records('alpha', 'sol'), none.records('alpha', 'serial'), none.records('alpha', 'vnc'), none.retentionDays('alpha')]).toEqual([true, true, false, undefined]);
    const policy = loadRecordingPolicy(write(JSON.stringify({ '*': { vnc: true, retentionDays: 90 }, alpha: { sol: false, retentionDays: 7 }, charlie: { retentionDays: null } })));
    expect([policy.records('alpha', 'sol'), policy.records('alpha', 'vnc'), policy.records('bravo', 'sol'), policy.records('bravo', 'vnc')]).toEqual([false, true, true, true]);
    expect([policy.retentionDays('alpha'), policy.retentionDays('bravo'), policy.retentionDays('charlie')]).toEqual([7, 90, undefined]);
  });

  it.each([
    ['not JSON', '{"*": {', '(file)', /not valid JSON/],
    ['a misspelt kind', JSON.stringify({ '*': { vcn: true } }), '*.vcn', /"\*\.vcn" is not a known setting/],
    ['a retention of zero days', JSON.stringify({ alpha: { retentionDays: 0 } }), 'alpha.retentionDays', /"alpha\.retentionDays"/],
    ['a retention as text', JSON.stringify({ alpha: { retentionDays: '30' } }), 'alpha.retentionDays', /"alpha\.retentionDays"/],
    ['a key that is no tenant slug', JSON.stringify({ '../etc': { sol: true } }), '../etc', /"\.\.\/etc" is neither/],
  ])('refuses %s with CONFIG_INVALID naming the key', (_name, text, key, message) => {
    const directory = write(text);
    let caught: unknown;
    try {
      loadRecordingPolicy(directory);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LightsoutError);
    expect((caught as LightsoutError).code).toBe('CONFIG_INVALID');
    expect((caught as LightsoutError).message).toMatch(message);
    expect((caught as LightsoutError).details).toMatchObject({ key });
  });
});

describe('a relay with a recording policy', () => {
  const relayOver = (dataDir: string) => buildApp({ config: { dataDir, webRoot: join(dataDir, 'no-web'), logLevel: 'silent' }, logDestination: { write: () => true } });

  it('deletes recordings past the retention when it starts, and audits each deletion', async () => {
    const dataDir = scratch.make();
    writeFileSync(join(dataDir, RECORDING_POLICY_FILE), JSON.stringify({ '*': { retentionDays: 30 } }));
    const recordings = join(dataDir, 'recordings');
    const storage = new FileRecordingStorage(recordings);
    await recorded(storage, recordings, 'old0000000000000000000', 'demo', 45, Date.now());
    await recorded(storage, recordings, 'new0000000000000000000', 'demo', 3, Date.now());

    const app = await relayOver(dataDir);
    try {
      await app.ready();
      expect(existsSync(join(recordings, 'old0000000000000000000.bytes'))).toBe(false);
      expect((await storage.list()).map((meta) => meta.id)).toEqual(['new0000000000000000000']);
      await expect
        .poll(async () => (await app.store.selectFrom('audit').selectAll().where('action', '=', 'recording.expire').execute()).map((row) => [row.tenant_id, row.target, row.outcome]))
        .toEqual([['demo', 'recording:old0000000000000000000', 'success']]);
    } finally {
      await app.close();
    }
  });

  it('refuses to start on a policy it cannot read', async () => {
    const dataDir = scratch.make();
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, RECORDING_POLICY_FILE), JSON.stringify({ '*': { retentionDays: -1 } }));
    await expect(relayOver(dataDir).then((app) => app.ready())).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
