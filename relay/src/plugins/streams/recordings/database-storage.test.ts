import type { RecordingMeta } from '@lightsout/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { storeDialects } from '../../../testing/dialects.js';
import type { Store } from '../../../store/open.js';
import { DatabaseRecordingStorage } from './database-storage.js';

/**
 * Recordings in the store, on both dialects: what one replica records,
 * another lists and reads; a session that moves to another gateway goes on
 * in the same recording at the stored length, each byte once.
 */
const dialects = storeDialects('lightsout-recordings-db-');
const stores: Store[] = [];
afterAll(async () => {
  for (const store of stores) await store.destroy();
});

const meta = (id: string, tenant = 'demo', startedAt = 1000): RecordingMeta => ({ id, sessionId: id, serverId: 'web-01', tenant, kind: 'sol', user: 'operator', subject: 'u-1', startedAt });
const id = (n: number) => `rec${String(n).padStart(19, '0')}`;

describe.each(dialects)('DatabaseRecordingStorage on %s', (_name, open) => {
  /** Two replicas of one deployment: two connections (pools) to the one database. */
  async function twoReplicas(): Promise<[DatabaseRecordingStorage, DatabaseRecordingStorage]> {
    const first = await open();
    const second = await open();
    stores.push(first, second);
    return [new DatabaseRecordingStorage(first), new DatabaseRecordingStorage(second)];
  }

  it('stores bytes and their time index; legs overlapping after a resume store each byte once', async () => {
    const [storage] = await twoReplicas();
    const writer = storage.writer(meta(id(1)));
    // Handed in before the writer has learnt the stored length: kept, in order.
    writer.write(0, Buffer.from('abc'), 1000);
    writer.write(3, Buffer.from('defg'), 1005);
    await writer.idle();
    // A resumed leg replays from offset 2: only what lies past 7 is new.
    writer.write(2, Buffer.from('cdefgh'), 1010);
    writer.write(8, Buffer.from('ij'), 1020);
    await writer.idle();
    expect(await storage.read(id(1))).toEqual({ bytes: Buffer.from('abcdefghij'), times: [[0, 1000], [3, 1005], [7, 1010], [8, 1020]] });
    expect(await storage.get(id(1))).toEqual(meta(id(1)));
  });

  it('what one replica records the other lists and reads, and continues at the stored length when the session moves there', async () => {
    const [gatewayA, gatewayB] = await twoReplicas();
    const onA = gatewayA.writer(meta(id(2), 'demo', 2000));
    onA.write(0, Buffer.from('login: '), 2001);
    await onA.idle();
    expect((await gatewayB.list()).map((recording) => recording.id)).toContain(id(2));
    expect(await gatewayB.read(id(2))).toEqual({ bytes: Buffer.from('login: '), times: [[0, 2001]] });
    // The agent moved to gateway B; the client resumes at offset 4 and B's leg replays from there.
    const onB = gatewayB.writer(meta(id(2), 'demo', 2000));
    onB.write(4, Buffer.from('n: root\r\n'), 2005);
    await onB.idle();
    const expected = { bytes: Buffer.from('login: root\r\n'), times: [[0, 2001], [7, 2005]] };
    expect(await gatewayA.read(id(2))).toEqual(expected);
    expect(await gatewayB.read(id(2))).toEqual(expected);
    // Newest first, on every replica alike.
    const later = gatewayA.writer(meta(id(3), 'demo', 3000));
    later.append(Buffer.from('x'), 3001);
    await later.idle();
    const listed = (await gatewayB.list()).map((recording) => recording.id);
    expect(listed.indexOf(id(3))).toBeLessThan(listed.indexOf(id(2)));
  });

  it('two writers storing the same offsets (a move while the old leg still runs) leave one copy of each byte', async () => {
    const [gatewayA, gatewayB] = await twoReplicas();
    const onA = gatewayA.writer(meta(id(4)));
    const onB = gatewayB.writer(meta(id(4)));
    onA.write(0, Buffer.from('0123456789'), 1);
    onB.write(0, Buffer.from('01234'), 1);
    onB.write(5, Buffer.from('56789abc'), 2);
    await Promise.all([onA.idle(), onB.idle()]);
    const stored = await gatewayA.read(id(4));
    expect(stored?.bytes.toString()).toBe('0123456789abc');
    // The size the list shows counts overlapping chunks once.
    expect(await gatewayB.size(id(4))).toBe(13);
    expect(await gatewayB.size(id(9))).toBeUndefined();
    expect(stored?.times.map(([offset]) => offset)).toEqual([...new Set(stored?.times.map(([offset]) => offset))]);
  });

  it('lastWrittenAt follows the last append; remove deletes whole, once, wherever it is asked', async () => {
    const [first, second] = await twoReplicas();
    let now = 10_000;
    const store = await open();
    stores.push(store);
    const clocked = new DatabaseRecordingStorage(store, () => now);
    const writer = clocked.writer(meta(id(5)));
    writer.append(Buffer.from('a'), 1);
    await writer.idle();
    expect(await second.lastWrittenAt(id(5))).toBe(10_000);
    now = 20_000;
    writer.append(Buffer.from('b'), 2);
    await writer.idle();
    expect(await second.lastWrittenAt(id(5))).toBe(20_000);
    expect(await second.remove(id(5))).toBe(true);
    expect(await first.remove(id(5))).toBe(false);
    expect(await first.get(id(5))).toBeUndefined();
    expect(await first.read(id(5))).toBeUndefined();
    expect(await first.lastWrittenAt(id(5))).toBeUndefined();
  });

  it('a writer that follows a closed one (the client reconnected) starts where that one\'s last bytes land, not before', async () => {
    const [storage] = await twoReplicas();
    const errors: Error[] = [];
    const first = storage.writer(meta(id(7)), (error) => errors.push(error));
    first.write(0, Buffer.from('hello '), 1);
    first.close();
    // Not awaited: the new leg's writer opens while the last append of the old one is still on its way.
    const second = storage.writer(meta(id(7)), (error) => errors.push(error));
    second.write(6, Buffer.from('world'), 2);
    await Promise.all([first.idle(), second.idle()]);
    const stored = await storage.read(id(7));
    expect(stored?.bytes.toString()).toBe('hello world');
    expect(stored?.times).toEqual([[0, 1], [6, 2]]);
    expect(errors).toEqual([]);
  });

  it('a row whose meta cannot be parsed is skipped by list() and reported with its id; every other recording is still listed', async () => {
    const store = await open();
    stores.push(store);
    const unreadable: Array<[string, string]> = [];
    const storage = new DatabaseRecordingStorage(store, Date.now, undefined, (recordingId, error) => unreadable.push([recordingId, error.message]));
    const writer = storage.writer(meta(id(10), 'bravo', 10_000));
    writer.append(Buffer.from('x'), 10_001);
    await writer.idle();
    // Damaged in the database (a truncated write, a hand edit): not JSON, and JSON that is not a meta.
    await store.insertInto('recordings').values({ id: id(11), tenant_id: 'demo', meta: '{"id": "rec', started_at: 11_000, created_at: 11_000 }).execute();
    await store.insertInto('recordings').values({ id: id(12), tenant_id: 'demo', meta: 'null', started_at: 12_000, created_at: 12_000 }).execute();
    const listed = (await storage.list()).map((recording) => recording.id);
    expect(listed).toContain(id(10));
    expect(listed).not.toContain(id(11));
    expect(listed).not.toContain(id(12));
    expect(unreadable.map(([recordingId]) => recordingId).sort()).toEqual([id(11), id(12)]);
    await store.deleteFrom('recordings').where('id', 'in', [id(11), id(12)]).execute();
  });

  it('a recording that cannot be stored is reported once through onError, and writes after it are dropped', async () => {
    const store = await open();
    const storage = new DatabaseRecordingStorage(store);
    const errors: Error[] = [];
    await store.destroy();
    const writer = storage.writer(meta(id(6)), (error) => errors.push(error));
    writer.write(0, Buffer.from('lost'), 1);
    await writer.idle();
    writer.write(4, Buffer.from('more'), 2);
    await writer.idle();
    expect(errors).toHaveLength(1);
  });
});
