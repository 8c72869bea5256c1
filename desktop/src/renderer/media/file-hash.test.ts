import { describe, expect, it } from 'vitest';
import { hashFile } from './file-hash.js';

// The reference is WebCrypto's one-shot digest (fine for a test-sized buffer).
async function referenceHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let offset = 0; offset < length; offset += 65_536) crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65_536)));
  return bytes;
}

describe('hashFile', () => {
  it('equals a one-shot SHA-256 across chunk boundaries, reporting monotonic progress', async () => {
    const bytes = randomBytes(9 * 1024 * 1024 + 17);
    const progress: number[] = [];
    const hex = await hashFile(new Blob([bytes]), (done) => progress.push(done));
    expect(hex).toBe(await referenceHex(bytes));
    expect(progress).toEqual([4 * 1024 * 1024, 8 * 1024 * 1024, bytes.length]);
  });

  it('hashes an empty file to the empty-input digest', async () => {
    expect(await hashFile(new Blob([]), () => {})).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(hashFile(new Blob([new Uint8Array(10)]), () => {}, controller.signal)).rejects.toThrow('cancelled');
  });
});
