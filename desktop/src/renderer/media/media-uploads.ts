import { MEDIA_UPLOADS_PATH, type MediaState, UploadRoutes } from '@lightsout/shared';
import { DefaultHttpStack, Upload } from 'tus-js-client';
import type { RelayClient } from '../api/relay-client.js';
import { hashFile } from './file-hash.js';
import { addSample, readTransfer, type TransferReading, type TransferSample } from './transfer-meter.js';

export type UploadPhase = 'hashing' | 'uploading' | 'paused' | 'mounting' | 'done' | 'failed';

/** Where the image comes from: a file of this computer (uploaded), a URL (the agent fetches it), or an image the relay holds already. */
export type UploadSource = 'file' | 'url' | 'cached';

export interface UploadJob {
  id: number;
  serverId: string;
  source: UploadSource;
  fileName: string;
  size: number;
  boot: boolean;
  phase: UploadPhase;
  /** Bytes hashed or uploaded in the current phase. */
  bytes: number;
  media: MediaState | null;
  error: string | null;
  /** Percent, rate and time left of the current phase's bytes (hashing, uploading, or the agent's fetch). */
  transfer: TransferReading;
}

/** What the mount request names besides `boot`: an upload, an image by hash, or a URL. */
type MountTarget = { uploadId: string } | { sha256: string } | { url: string };

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
  readonly #samples = new Map<number, TransferSample[]>();
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
    this.#jobs = this.#jobs.map((job) => {
      if (job.id !== id) return job;
      const next = { ...job, ...change };
      // A new phase measures its own bytes: the rate of hashing says nothing about the upload's.
      if (next.phase !== job.phase) this.#samples.delete(id);
      if (change.bytes !== undefined || next.phase !== job.phase) {
        const samples = addSample(this.#samples.get(id) ?? [], { at: performance.now(), bytes: next.bytes });
        this.#samples.set(id, samples);
        next.transfer = readTransfer(samples, next.size);
      }
      return next;
    });
    for (const listener of this.#listeners) listener(this.#jobs);
  }

  #add(serverId: string, source: UploadSource, fileName: string, size: number, boot: boolean, phase: UploadPhase): number {
    const id = this.#nextId++;
    this.#jobs = [...this.#jobs, { id, serverId, source, fileName, size, boot, phase, bytes: 0, media: null, error: null, transfer: readTransfer([], size) }];
    for (const listener of this.#listeners) listener(this.#jobs);
    return id;
  }

  /** Uploads a file of this computer, then mounts it. */
  start(serverId: string, file: File, boot: boolean): number {
    const id = this.#add(serverId, 'file', file.name, file.size, boot, 'hashing');
    void this.#run(id, serverId, async (abort) => {
      const sha256 = await hashFile(file, (bytes) => this.#update(id, { bytes }), abort);
      this.#update(id, { phase: 'uploading', bytes: 0 });
      const uploadUrl = await this.#upload(id, serverId, file, sha256);
      this.#update(id, { phase: 'mounting', bytes: file.size });
      return { uploadId: new URL(uploadUrl, this.#client.baseUrl).pathname.split('/').pop() ?? '' };
    });
    return id;
  }

  /** Mounts an image from a URL: the agent fetches it (the tenant's URL policy decides which hosts); its bytes are the progress. */
  startUrl(serverId: string, url: string, boot: boolean): number {
    const fileName = decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
    const id = this.#add(serverId, 'url', fileName, 0, boot, 'mounting');
    void this.#run(id, serverId, async () => ({ url }));
    return id;
  }

  /** Mounts an earlier upload of the tenant, by its id (its own file name, though another upload may hold the same bytes): nothing is uploaded again. */
  startCached(serverId: string, image: { uploadId: string; filename: string; size: number }, boot: boolean): number {
    const id = this.#add(serverId, 'cached', image.filename, image.size, boot, 'mounting');
    void this.#run(id, serverId, async () => ({ uploadId: image.uploadId }));
    return id;
  }

  async #run(id: number, serverId: string, prepare: (abort: AbortSignal) => Promise<MountTarget>): Promise<void> {
    const abort = new AbortController();
    this.#aborts.set(id, abort);
    const path = `/v1/servers/${encodeURIComponent(serverId)}/media`;
    try {
      const target = await prepare(abort.signal);
      if (abort.signal.aborted) return;
      const boot = this.#jobs.find((job) => job.id === id)?.boot ?? false;
      let media = await this.#client.request<MediaState>('POST', path, { ...target, boot });
      this.#showMedia(id, media);
      // Follow the mount until it settles; bounded (about 10 minutes at 1 s).
      for (let attempt = 0; attempt < 600 && !FINAL_STEPS.has(media.step) && !abort.signal.aborted; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        media = await this.#client.request<MediaState>('GET', path);
        this.#showMedia(id, media);
      }
      if (media.step === 'failed') this.#update(id, { phase: 'failed', error: `${media.failedStep ?? 'mount'} failed: ${media.error?.message ?? media.message}` });
      else this.#update(id, { phase: 'done' });
    } catch (error) {
      if (!abort.signal.aborted) this.#update(id, { phase: 'failed', error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.#aborts.delete(id);
      this.#uploads.delete(id);
      this.#samples.delete(id);
    }
  }

  /** The mount's state; while the agent fetches a URL or receives a cached image, those bytes are the job's progress (a file's was its upload). */
  #showMedia(id: number, media: MediaState): void {
    const source = this.#jobs.find((job) => job.id === id)?.source;
    if (source !== 'file' && media.step === 'transferring' && media.progress) this.#update(id, { media, bytes: media.progress.bytes, size: media.progress.total });
    else this.#update(id, { media });
  }

  #upload(id: number, serverId: string, file: File, sha256: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const upload = new Upload(file, {
        endpoint: new URL(MEDIA_UPLOADS_PATH, this.#client.baseUrl).href,
        // The server names the agent whose cache stores the image (docs/virtual-media.md "Uploads into the agent").
        metadata: { filename: file.name, sha256, server: serverId },
        // The bytes go to the gateway holding the server's agent; when that gateway dies, the next HEAD asks this
        // relay (the deployment's URL) where the agent is now and the upload continues there from the agent's offset.
        httpStack: new UploadRoutes(new DefaultHttpStack({}), this.#client.baseUrl),
        // An upload resumes only for the same server: another server's agent does not have its bytes.
        fingerprint: async (input) => ['lightsout', serverId, input.name, input.type, input.size, input.lastModified].join('-'),
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
    this.#samples.delete(id);
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
