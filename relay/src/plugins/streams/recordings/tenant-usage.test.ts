import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeStreamMessage, type StreamTokenClaims } from '@lightsout/shared';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { StreamRecorder } from './recorder.js';
import { FileRecordingStorage, type RecordingMeta } from './storage.js';
import { TenantRecordingUsage } from './tenant-usage.js';

const scratch = scratchDirectories('lightsout-tenant-usage-');
afterEach(scratch.removeAll);

const meta = (id: string, tenant: string): RecordingMeta => ({ id: id.padEnd(22, 'A'), sessionId: id.padEnd(22, 'A'), serverId: 'web-01', tenant, kind: 'sol', user: 'operator', startedAt: 1 });
const codes = (errors: unknown[]) => errors.map((error) => (error as { code?: string }).code);

async function written(storage: FileRecordingStorage, id: string): Promise<string> {
  return (await storage.read(id.padEnd(22, 'A')))?.bytes.toString('latin1') ?? '';
}

describe('TenantRecordingUsage: one limit over all of a tenant\'s recordings', () => {
  it('stops the recording that reaches the limit exactly there (QUOTA_EXCEEDED naming the tenant), while another tenant records on', async () => {
    const storage = new FileRecordingStorage(join(scratch.make(), 'recordings'));
    const usage = new TenantRecordingUsage(storage, 10);
    const errors: Error[] = [];
    const first = storage.writer(meta('first', 'alpha'), (error) => errors.push(error), usage.allowance('alpha'));
    const second = storage.writer(meta('second', 'alpha'), (error) => errors.push(error), usage.allowance('alpha'));
    const other = storage.writer(meta('other', 'bravo'), (error) => errors.push(error), usage.allowance('bravo'));
    first.append(Buffer.from('012345'), 1);
    second.append(Buffer.from('6789ab'), 2);
    second.append(Buffer.from('cd'), 3);
    other.append(Buffer.from('bravo-bytes'.slice(0, 10)), 4);
    await Promise.all([first.idle(), second.idle(), other.idle()]);
    for (const writer of [first, second, other]) writer.close();

    expect(await written(storage, 'first')).toBe('012345');
    expect(await written(storage, 'second')).toBe('6789');
    expect(await written(storage, 'other')).toBe('bravo-byte');
    expect(codes(errors)).toEqual(['QUOTA_EXCEEDED']);
    expect(errors[0]!.message).toBe(`tenant alpha's recordings reached their limit of 10 bytes; session ${'second'.padEnd(22, 'A')} goes on unrecorded`);
    expect(usage.full('alpha')).toBe(true);
    expect(usage.full('bravo')).toBe(true);
  });

  it('counts what storage already holds once scanned, and room comes back when a recording is gone', async () => {
    const storage = new FileRecordingStorage(join(scratch.make(), 'recordings'));
    const old = storage.writer(meta('old', 'alpha'));
    old.append(Buffer.from('12345678'), 1);
    await old.idle();
    old.close();

    const usage = new TenantRecordingUsage(storage, 10);
    await usage.rescan();
    expect(usage.used('alpha')).toBe(8);
    expect(usage.used('bravo')).toBe(0);
    const errors: Error[] = [];
    const next = storage.writer(meta('next', 'alpha'), (error) => errors.push(error), usage.allowance('alpha'));
    next.append(Buffer.from('abcde'), 2);
    await next.idle();
    next.close();
    expect(await written(storage, 'next')).toBe('ab');
    expect(codes(errors)).toEqual(['QUOTA_EXCEEDED']);
    // Scanned again: the 10 bytes held are counted once, not as stored plus granted.
    await usage.rescan();
    expect(usage.used('alpha')).toBe(10);

    expect(await storage.remove('old'.padEnd(22, 'A'))).toBe(true);
    await usage.rescan();
    expect(usage.used('alpha')).toBe(2);
    expect(usage.full('alpha')).toBe(false);
  });
});

describe('StreamRecorder with a tenant limit', () => {
  const claims = (sid: string, tenant: string) => ({ sid: sid.padEnd(22, 'A'), srv: 'web-01', ten: tenant, knd: 'sol', usr: 'operator', sub: 'user-1' }) as StreamTokenClaims;

  it('starts no recording for a tenant at its limit, says so, and records another tenant\'s session', async () => {
    const storage = new FileRecordingStorage(join(scratch.make(), 'recordings'));
    const full = storage.writer(meta('full', 'alpha'));
    full.append(Buffer.from('0123456789'), 1);
    await full.idle();
    full.close();
    const usage = new TenantRecordingUsage(storage, 10);
    await usage.rescan();
    const reports: [unknown, string][] = [];
    const recorder = new StreamRecorder(storage, () => true, (error, sessionId) => reports.push([error, sessionId]), usage);

    expect(recorder.hooksFor(claims('alpha2', 'alpha'))).toBeUndefined();
    expect(reports.map(([error, sessionId]) => [(error as { code?: string }).code, sessionId])).toEqual([['QUOTA_EXCEEDED', 'alpha2'.padEnd(22, 'A')]]);

    const hooks = recorder.hooksFor(claims('bravo1', 'bravo'))!;
    expect(hooks).toBeDefined();
    hooks.upstreamControl?.(encodeStreamMessage({ type: 'resume', offset: 0 }));
    hooks.downstream?.(Buffer.from('login: '));
    hooks.end?.();
    await expect.poll(() => written(storage, 'bravo1')).toBe('login: ');
    expect((await storage.list()).map((recording) => recording.tenant).sort()).toEqual(['alpha', 'bravo']);
  });
});
