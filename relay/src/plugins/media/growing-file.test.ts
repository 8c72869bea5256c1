import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { appendFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { readGrowingFile } from './growing-file.js';

const scratch = scratchDirectories('growing-');
afterEach(scratch.removeAll);

function fileWith(bytes: Buffer): string {
  const directory = scratch.make();
  const path = join(directory, 'upload');
  writeFileSync(path, bytes);
  return path;
}

describe('readGrowingFile', () => {
  it('streams bytes as the file grows and ends at the declared size', async () => {
    const whole = randomBytes(300_000);
    const path = fileWith(whole.subarray(0, 100_000));
    const stream = readGrowingFile({ path, start: 0, size: whole.length, stallTimeoutMs: 5000, pollIntervalMs: 5, chunkBytes: 64 * 1024 });
    const received: Buffer[] = [];
    let total = 0;
    // append the rest only after the reader has consumed what was there: it must wait, not end
    for await (const chunk of stream) {
      received.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total === 100_000) appendFileSync(path, whole.subarray(100_000, 200_000));
      if (total === 200_000) appendFileSync(path, whole.subarray(200_000));
    }
    expect(Buffer.concat(received).equals(whole)).toBe(true);
  });

  it('starts at an offset (Range resume)', async () => {
    const whole = randomBytes(50_000);
    const path = fileWith(whole);
    const chunks: Buffer[] = [];
    for await (const chunk of readGrowingFile({ path, start: 20_000, size: whole.length, stallTimeoutMs: 1000 })) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(whole.subarray(20_000))).toBe(true);
  });

  it('fails when the upload stops growing', async () => {
    const path = fileWith(randomBytes(10));
    const stream = readGrowingFile({ path, start: 0, size: 100, stallTimeoutMs: 100, pollIntervalMs: 10 });
    await expect(
      (async () => {
        for await (const _chunk of stream) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: 'AGENT_TIMEOUT' });
  });

  it('closes its file when destroyed while it was still opening it', async () => {
    const path = fileWith(randomBytes(10_000));
    const stream = readGrowingFile({ path, start: 0, size: 10_000, stallTimeoutMs: 1000 });
    stream.read(0);
    stream.destroy();
    await once(stream, 'close');
    const descriptors = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
    expect(descriptors).toEqual([]);
  });
});
