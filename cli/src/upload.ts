import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tus from 'tus-js-client';
import { DefaultHttpStack, Upload, type UrlStorage } from 'tus-js-client';
import { LightsoutError, MEDIA_UPLOADS_PATH, UploadRoutes } from '@lightsout/shared';
import type { RelayApi } from './api.js';
import { configDir } from './config-store.js';
import type { Output } from './output.js';

/**
 * An image to the relay with tus (resumable: an interrupted run continues
 * where it stopped, the upload URL is remembered under the config dir).
 */

// The Node build exports FileUrlStorage; the package's types only declare the browser surface.
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => UrlStorage };
const CHUNK_BYTES = 64 * 1024 * 1024;
/** File reads per tus chunk: tus-js-client's own Node file source reads 64 KiB at a time. */
const READ_BUFFER_BYTES = 1024 * 1024;

export async function hashFile(file: string, size: number, onProgress: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
    onProgress(bytes);
  }
  if (bytes !== size) throw new LightsoutError('BAD_REQUEST', `${file} changed while it was read`);
  return hash.digest('hex');
}

/**
 * tus-js-client's Node file source, with 1 MiB reads instead of 64 KiB: a
 * sixteenth of the read syscalls, stream hops and socket writes per byte
 * uploaded. The input stays the fs.ReadStream, so the resume fingerprint
 * (path, size, mtime) is unchanged.
 */
export const tusFileReader = {
  async openFile(input: ReturnType<typeof createReadStream>) {
    const path = String(input.path);
    const { size } = await stat(path);
    return {
      size,
      slice: async (start: number, end: number) => {
        const last = Math.min(end, size);
        const value = Object.assign(createReadStream(path, { start, end: last - 1, highWaterMark: READ_BUFFER_BYTES }), { size: last - start });
        return { value, done: last >= size };
      },
      close: () => input.destroy(),
    };
  },
};

export interface UploadRequest {
  api: RelayApi;
  file: string;
  size: number;
  sha256: string;
  /** The server the image is for: its agent's cache stores it, through the gateway holding that agent. */
  serverId: string;
  /** The config dir of this run: where the resume state lives. */
  env: NodeJS.ProcessEnv;
  output: Output;
  onProgress(sent: number): void;
  /**
   * Called once the relay has named the upload (created, or found again on a
   * resume) and before any byte is sent: no byte goes out until the promise
   * it returns resolves, and its rejection ends the upload with that error.
   * `media mount` asks for the mount there, so a refusal (a step-up the user
   * cannot give, a conflict) costs no upload.
   */
  beforeBytes(uploadId: string): Promise<unknown>;
}

/** tus upload with retries and resumption across runs; resolves with the upload id. */
export function uploadFile(request: UploadRequest): Promise<string> {
  const { api, file, size, sha256, serverId, output } = request;
  return new Promise((resolve, reject) => {
    let admitted: Promise<unknown> | undefined;
    const uploader = new Upload(createReadStream(file), {
      endpoint: `${api.relay}${MEDIA_UPLOADS_PATH}`,
      uploadSize: size,
      chunkSize: CHUNK_BYTES,
      fileReader: tusFileReader,
      metadata: { filename: basename(file), sha256, server: serverId },
      // resumed only for the same server: another server's agent does not have the bytes
      fingerprint: async () => {
        const info = await stat(file);
        return ['lightsout', serverId, file, info.size, info.mtimeMs, api.relay].join('-');
      },
      // after a gateway dies, the deployment says where the agent (and so the upload) is now
      httpStack: new UploadRoutes(new DefaultHttpStack({}), api.relay),
      retryDelays: [0, 1000, 3000, 5000, 10_000, 20_000],
      urlStorage: new FileUrlStorage(join(configDir(request.env), 'uploads.json')),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: async (tusRequest) => {
        // the gate first: a step-up during it changes the token this request must carry
        if (tusRequest.getMethod() === 'PATCH') await admitted;
        tusRequest.setHeader('Authorization', `Bearer ${await api.token()}`);
      },
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        // the relay refused for a reason a retry will not fix (quota, checksum, auth, size)
        return status === 0 || status >= 500 || status === 409 || status === 421 || status === 423;
      },
      onProgress: (sent) => request.onProgress(sent),
      onUploadUrlAvailable: () => {
        const id = uploader.url?.split('/').pop();
        if (!id || admitted) return;
        admitted = request.beforeBytes(id);
        // Registered before any PATCH awaits the gate, so the abort runs first and
        // tus-js-client drops that PATCH instead of retrying it.
        admitted.catch((error: unknown) => {
          void uploader.abort();
          reject(error);
        });
      },
      onError: (error) => reject(uploadError(error)),
      onSuccess: () => {
        const id = uploader.url?.split('/').pop();
        if (!id) reject(new LightsoutError('INTERNAL', 'the relay gave no upload URL'));
        else resolve(id);
      },
    });
    uploader
      .findPreviousUploads()
      .then((previous) => {
        const last = previous.at(-1);
        if (last) {
          output.err(`resuming the upload of ${basename(file)} started ${last.creationTime}\n`);
          uploader.resumeFromPreviousUpload(last);
        }
        uploader.start();
      })
      .catch((error: unknown) => reject(error));
  });
}

/** A tus failure as the relay's coded error when it sent one. */
function uploadError(error: Error & { originalResponse?: { getStatus(): number; getBody(): string } | null }): LightsoutError {
  const response = error.originalResponse;
  if (response) {
    try {
      const parsed = LightsoutError.fromBody(JSON.parse(response.getBody()));
      if (parsed.code !== 'INTERNAL') return parsed;
    } catch {
      // not JSON: fall through
    }
    return new LightsoutError('INTERNAL', `upload refused: HTTP ${response.getStatus()} ${response.getBody().slice(0, 200)}`);
  }
  return new LightsoutError('RELAY_UNREACHABLE', `upload failed: ${error.message}`, { hint: 'run the same command again: the upload resumes where it stopped' });
}
