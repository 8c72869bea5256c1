import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * SHA-256 of a (possibly multi-GiB) File, read in 4 MiB slices so memory
 * stays flat — WebCrypto's digest wants the whole file in one buffer. The
 * relay checks the uploaded bytes against this (end-to-end verification).
 */
export async function hashFile(file: Blob, onProgress: (bytes: number) => void, signal?: AbortSignal): Promise<string> {
  const hash = sha256.create();
  for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
    if (signal?.aborted) throw new DOMException('hashing cancelled', 'AbortError');
    const chunk = new Uint8Array(await file.slice(offset, Math.min(file.size, offset + CHUNK_BYTES)).arrayBuffer());
    hash.update(chunk);
    onProgress(Math.min(file.size, offset + CHUNK_BYTES));
  }
  return bytesToHex(hash.digest());
}
