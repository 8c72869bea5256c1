import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { AtomicFileConfigstore } from './atomic-configstore.js';

const scratch = scratchDirectories('lightsout-configstore-');
afterEach(scratch.removeAll);

describe('AtomicFileConfigstore', () => {
  it('a reader racing many writes always sees a whole record, never "no such upload"', async () => {
    const directory = scratch.make();
    const store = new AtomicFileConfigstore(directory);
    const record = (offset: number) => ({ id: 'upload-1', size: 1_000_000, offset, metadata: { filename: 'rescue.iso', padding: 'x'.repeat(20_000) }, creation_date: new Date(0).toISOString() });
    await store.set('upload-1', record(0) as never);
    let missing = 0;
    let reads = 0;
    let writing = true;
    const writer = (async () => {
      for (let offset = 1; offset <= 300; offset += 1) await store.set('upload-1', record(offset) as never);
      writing = false;
    })();
    while (writing && reads < 100_000) {
      reads += 1;
      if ((await store.get('upload-1')) === undefined) missing += 1;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
    expect(missing).toBe(0);
    expect(((await store.get('upload-1')) as { offset: number }).offset).toBe(300);
    expect(readdirSync(directory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a key that resolves outside its directory', async () => {
    const directory = scratch.make();
    await expect(new AtomicFileConfigstore(directory).set('../escape', {} as never)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
