import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildApp } from '../../../app.js';
import { RECORDING_POLICY_FILE } from './policy.js';
import { FileRecordingStorage } from './storage.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-retention-app-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

it('a relay deletes recordings past the policy retention when it starts, and audits each deletion', async () => {
  const dataDir = join(directory, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, RECORDING_POLICY_FILE), JSON.stringify({ '*': { retentionDays: 30 } }));
  const recordings = join(dataDir, 'recordings');
  const storage = new FileRecordingStorage(recordings);
  const day = 86_400_000;
  for (const [id, ageDays] of [['old0000000000000000000', 45], ['new0000000000000000000', 3]] as const) {
    const writer = storage.writer({ id, sessionId: id, serverId: 'web-01', tenant: 'demo', kind: 'serial', user: 'alice', startedAt: Date.now() - ageDays * day });
    writer.append(Buffer.from('login: '), 1);
    writer.close();
    await expect.poll(() => storage.read(id)?.bytes.length).toBe(7);
    const at = new Date(Date.now() - ageDays * day);
    for (const suffix of ['.json', '.bytes', '.times']) utimesSync(join(recordings, id + suffix), at, at);
  }

  const app = await buildApp({ config: { dataDir, webRoot: join(directory, 'no-web'), logLevel: 'silent' }, logDestination: { write: () => true } });
  try {
    await app.ready();
    expect(existsSync(join(recordings, 'old0000000000000000000.bytes'))).toBe(false);
    expect(storage.list().map((meta) => meta.id)).toEqual(['new0000000000000000000']);
    await expect
      .poll(async () => (await app.store.selectFrom('audit').selectAll().where('action', '=', 'recording.expire').execute()).map((row) => [row.tenant_id, row.target, row.outcome]))
      .toEqual([['demo', 'recording:old0000000000000000000', 'success']]);
  } finally {
    await app.close();
  }
});

it('a relay refuses to start on a recording policy it cannot read', async () => {
  const dataDir = join(directory, 'bad');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, RECORDING_POLICY_FILE), JSON.stringify({ '*': { retentionDays: -1 } }));
  await expect(buildApp({ config: { dataDir, webRoot: join(directory, 'no-web'), logLevel: 'silent' }, logDestination: { write: () => true } }).then((app) => app.ready())).rejects.toMatchObject({
    code: 'CONFIG_INVALID',
  });
});
