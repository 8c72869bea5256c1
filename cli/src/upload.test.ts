import { randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { tusFileReader } from './upload.js';

const scratch = scratchDirectories('cli-media-');
afterEach(scratch.removeAll);

async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('the tus file source of the CLI', () => {
  it('slices the file into exactly the requested byte ranges, with sizes tus-js-client sends as Content-Length', async () => {
    const directory = scratch.make();
    const file = join(directory, 'image.iso');
    const image = randomBytes(3 * 1024 * 1024 + 123);
    writeFileSync(file, image);
    const input = createReadStream(file);
    const source = await tusFileReader.openFile(input);
    expect(source.size).toBe(image.length);

    const chunk = 1024 * 1024 + 7;
    const parts: Buffer[] = [];
    for (let start = 0; start < image.length; start += chunk) {
      const { value, done } = await source.slice(start, start + chunk);
      const bytes = await bytesOf(value);
      expect(value.size).toBe(bytes.length);
      expect(done).toBe(start + chunk >= image.length);
      parts.push(bytes);
    }
    expect(Buffer.concat(parts).equals(image)).toBe(true);

    // a resumed upload starts mid-file
    const resumed = await source.slice(image.length - 100, image.length + chunk);
    expect((await bytesOf(resumed.value)).equals(image.subarray(image.length - 100))).toBe(true);
    expect(resumed.done).toBe(true);
    source.close();
    expect(input.destroyed).toBe(true);
  });
});
