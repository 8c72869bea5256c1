import { MEDIA_UPLOADS_PATH, type MediaState } from '@lightsout/shared';
import { Upload } from 'tus-js-client';
import type { RelayClient } from '../api/relay-client.js';
import { hashFile } from './file-hash.js';

export type UploadPhase = 'hashing' | 'uploading' | 'paused' | 'mounting' | 'done' | 'failed';

export interface UploadJob {
  id: number;
  serverId: string;
  fileName: string;
  size: number;
  boot: boolean;
  phase: UploadPhase;
  /** Bytes hashed or uploaded in the current phase. */
  bytes: number;
  media: MediaState | null;
  error: string | null;
}

const FINAL_STEPS = new Set(['mounted', 'booting', 'failed', 'idle']);

/**
 * ISO drops: hash → tus upload (resumable, pausable; tus-js-client keeps the
 * upload URL so a cut connection or a relay restart continues where it
 * stopped) → mount (+ boot once + reset) → follow the mount until it settles.
 * A small observable store: the panel renders `jobs`.
 */
export class MediaUploads {
  readonly #client: RelayClient;
  readonly #accessToken: () => Promise<string | null>;
  readonly #listeners = new Set<(jobs: readonly UploadJob[]) => void>();
  readonly #uploads = new Map<number, Upload>();
  readonly #aborts = new Map<number, AbortController>();
  #jobs: UploadJob[] = [];
  #nextId = 1;

  constructor(client: RelayClient, accessToken: () => Promise<string | null>) {
    this.#client = client;
    this.#accessToken = accessToken;
  }

  get jobs(): readonly UploadJob[] {
    return this.#jobs;
  }

  subscribe(listener: (jobs: readonly UploadJob[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #update(id: number, change: Partial<UploadJob>): void {
    this.#jobs = this.#jobs.map((job) => (job.id === id ? { ...job, ...change } : job));
    for (const listener of this.#listeners) listener(this.#jobs);
  }

  start(serverId: string, file: File, boot: boolean): number {
    const id = this.#nextId++;
    this.#jobs = [...this.#jobs, { id, serverId, fileName: file.name, size: file.size, boot, phase: 'hashing', bytes: 0, media: null, error: null }];
    for (const listener of this.#listeners) listener(this.#jobs);
    void this.#run(id, serverId, file, boot);
    return id;
  }

  async #run(id: number, serverId: string, file: File, boot: boolean): Promise<void> {
    const abort = new AbortController();
    this.#aborts.set(id, abort);
    try {
      const sha256 = await hashFile(file, (bytes) => this.#update(id, { bytes }), abort.signal);
      this.#update(id, { phase: 'uploading', bytes: 0 });
      const uploadUrl = await this.#upload(id, file, sha256);
      const uploadId = new URL(uploadUrl, this.#client.baseUrl).pathname.split('/').pop() ?? '';
      this.#update(id, { phase: 'mounting', bytes: file.size });
      let media = await this.#client.request<MediaState>('POST', `/v1/servers/${encodeURIComponent(serverId)}/media`, { uploadId, boot });
      this.#update(id, { media });
      // Follow the mount until it settles; bounded (about 10 minutes at 1 s).
      for (let attempt = 0; attempt < 600 && !FINAL_STEPS.has(media.step) && !abort.signal.aborted; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        media = await this.#client.request<MediaState>('GET', `/v1/servers/${encodeURIComponent(serverId)}/media`);
        this.#update(id, { media });
      }
      if (media.step === 'failed') this.#update(id, { phase: 'failed', error: `${media.failedStep ?? 'mount'} failed: ${media.error?.message ?? media.message}` });
      else this.#update(id, { phase: 'done' });
    } catch (error) {
      if (!abort.signal.aborted) this.#update(id, { phase: 'failed', error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.#aborts.delete(id);
      this.#uploads.delete(id);
    }
  }

  #upload(id: number, file: File, sha256: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const upload = new Upload(file, {
        endpoint: new URL(MEDIA_UPLOADS_PATH, this.#client.baseUrl).href,
        metadata: { filename: file.name, sha256 },
        chunkSize: 16 * 1024 * 1024,
        retryDelays: [0, 1000, 3000, 5000, 10_000],
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        onBeforeRequest: async (request) => {
          const token = await this.#accessToken();
          if (token) request.setHeader('Authorization', `Bearer ${token}`);
        },
        onProgress: (bytes) => this.#update(id, { bytes }),
        onError: (error) => reject(error),
        onSuccess: () => resolve(upload.url ?? ''),
      });
      this.#uploads.set(id, upload);
      // Resume an earlier upload of the same file if tus remembers one.
      void upload.findPreviousUploads().then((previous) => {
        const [latest] = previous;
        if (latest) upload.resumeFromPreviousUpload(latest);
        upload.start();
      });
    });
  }

  pause(id: number): void {
    const upload = this.#uploads.get(id);
    if (!upload) return;
    void upload.abort();
    this.#update(id, { phase: 'paused' });
  }

  resume(id: number): void {
    const upload = this.#uploads.get(id);
    if (!upload) return;
    this.#update(id, { phase: 'uploading' });
    upload.start();
  }

  cancel(id: number): void {
    this.#aborts.get(id)?.abort();
    const upload = this.#uploads.get(id);
    if (upload) void upload.abort(true);
    this.#jobs = this.#jobs.filter((job) => job.id !== id);
    for (const listener of this.#listeners) listener(this.#jobs);
  }

  dismiss(id: number): void {
    this.#jobs = this.#jobs.filter((job) => job.id !== id || (job.phase !== 'done' && job.phase !== 'failed'));
    for (const listener of this.#listeners) listener(this.#jobs);
  }
}
