import { open } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { LightsoutError } from '@lightsout/shared';

/**
 * Reads an upload that may still be arriving: bytes [start, size) of `path`,
 * waiting for the file to grow while tus appends to it. This lets the agent
 * pull an image while the client is still uploading it (cut-through), so the
 * two hops overlap instead of running one after the other. Integrity does not
 * depend on it: the agent hashes what it receives and keeps it only if the
 * SHA-256 matches. Pull-based, so the consumer's backpressure paces the reads.
 */
export interface GrowingFileOptions {
  path: string;
  start: number;
  size: number;
  /** Fails the stream when the file has not grown for this long (client gone). */
  stallTimeoutMs: number;
  pollIntervalMs?: number;
  chunkBytes?: number;
}

export function readGrowingFile(options: GrowingFileOptions): Readable {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const pollIntervalMs = options.pollIntervalMs ?? 50;
  let position = options.start;
  /** The file's size when last looked at: bytes below it are there to read without asking again. */
  let available = 0;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  /** The open in flight: a destroy that comes meanwhile waits for it, to close what it opens. */
  let opening: ReturnType<typeof open> | undefined;
  let lastGrowth = Date.now();
  let closed = false;
  return new Readable({
    highWaterMark: chunkBytes,
    async read() {
      try {
        handle ??= await (opening ??= open(options.path, 'r'));
        // bounded: each wait is short and the stall deadline ends a file that stops growing
        while (!closed) {
          if (position >= options.size) {
            this.push(null);
            return;
          }
          if (available <= position) available = (await handle.stat()).size;
          if (available > position) {
            const length = Math.min(chunkBytes, available - position, options.size - position);
            const buffer = Buffer.allocUnsafe(length);
            const { bytesRead } = await handle.read(buffer, 0, length, position);
            if (bytesRead === 0) {
              // shorter than it was (nothing of ours truncates it): look again, and let the stall deadline judge
              available = position;
              await delay(pollIntervalMs);
              continue;
            }
            position += bytesRead;
            lastGrowth = Date.now();
            this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
            return;
          }
          if (Date.now() - lastGrowth > options.stallTimeoutMs) {
            throw new LightsoutError('AGENT_TIMEOUT', `the upload stopped growing at ${position} of ${options.size} bytes`);
          }
          await delay(pollIntervalMs);
        }
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    async destroy(error, callback) {
      closed = true;
      const file = handle ?? (await opening?.catch(() => undefined));
      await file?.close().catch(() => undefined);
      callback(error);
    },
  });
}
