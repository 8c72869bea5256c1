import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import * as tus from 'tus-js-client';
import { Upload, type UrlStorage } from 'tus-js-client';
import { LightsoutError, MEDIA_UPLOADS_PATH, type ErrorCode, type MediaState, isErrorCode } from '@lightsout/shared';
import { serverPath } from '../api.js';
import { resolveRelay, tokenSourceFor, type TokenSource } from '../auth/session.js';
import { configDir } from '../config-store.js';
import { errorOf, readJson, send } from '../http.js';
import { json } from '../output.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandContext } from './context.js';

/**
 * `lightsout media mount|eject|status`: the one action from a terminal.
 * mount = hash the file, upload it with tus (resumable: an interrupted run
 * continues where it stopped, the URL is remembered under the config dir),
 * ask the relay to mount it, then follow the state with a progress bar until
 * the server boots from it or a step fails.
 */
interface MediaImageView {
  uploadId: string;
  filename: string;
  sha256: string;
  size: number;
  uploadedBy: string;
  createdAt: string | null;
}

/** Following a mount: each poll is one small GET; a short interval is latency off the end of every mount. */
const POLL_INTERVAL_MS = 100;
// The Node build exports FileUrlStorage; the package's types only declare the browser surface.
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => UrlStorage };
const CHUNK_BYTES = 64 * 1024 * 1024;
/** File reads per tus chunk: tus-js-client's own Node file source reads 64 KiB at a time. */
const READ_BUFFER_BYTES = 1024 * 1024;

async function client(context: CommandContext): Promise<{ relay: string; tokens: TokenSource; call: <T>(method: string, path: string, body?: unknown) => Promise<T> }> {
  const relay = await resolveRelay(context.relayFlag, context.env);
  const tokens = tokenSourceFor(relay, context.env);
  const call = async <T>(method: string, path: string, body?: unknown, renewed = false): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${await tokens.token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await send(`${relay}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (response.status === 401 && !renewed && (await tokens.renew())) return call<T>(method, path, body, true);
    if (!response.ok) throw await errorOf(response);
    return (await readJson(response)) as T;
  };
  return { relay, tokens, call };
}

export async function mediaMount(context: CommandContext, serverId: string, file: string, options: { boot?: boolean; replace?: boolean; json?: boolean; wait?: boolean }): Promise<void> {
  const { relay, tokens, call } = await client(context);
  const info = await stat(file).catch(() => {
    throw new LightsoutError('BAD_REQUEST', `cannot read ${file}`);
  });
  if (!info.isFile()) throw new LightsoutError('BAD_REQUEST', `${file} is not a file`);
  // refuse early (unknown server, IPMI-only BMC, no permission) instead of after uploading gigabytes
  await call<MediaState>('GET', serverPath(serverId, 'media'));
  const progress = new ProgressBar(context);

  const sha256 = await hashFile(file, info.size, (bytes) => progress.show('hashing', bytes, info.size));
  progress.done();
  const { images } = await call<{ images: MediaImageView[] }>('GET', '/v1/media/images');
  let uploadId = images.find((image) => image.sha256 === sha256)?.uploadId;
  const body = (id: string) => ({ uploadId: id, boot: options.boot === true, ...(options.replace ? { replace: true } : {}) });
  /** Asks for the mount; a job already running for this image (an interrupted earlier run) is followed instead. */
  const startMount = async (id: string): Promise<MediaState> => {
    try {
      return await call<MediaState>('POST', serverPath(serverId, 'media'), body(id));
    } catch (error) {
      if (!(error instanceof LightsoutError) || error.code !== 'CONFLICT') throw error;
      const current = await call<MediaState>('GET', serverPath(serverId, 'media'));
      if (current.image?.sha256 !== sha256) throw error;
      return current;
    }
  };
  let mounting: Promise<MediaState> | undefined;
  if (uploadId) {
    context.output.err(`${basename(file)} is already on the relay (sha256 ${sha256.slice(0, 12)}…), not uploading again\n`);
  } else {
    await mkdir(configDir(context.env), { recursive: true, mode: 0o700 });
    // Mount as soon as the relay has an upload id: the agent pulls the image while it is still
    // being uploaded (cut-through); the relay mounts only once the upload is complete and verified.
    uploadId = await upload(context, relay, tokens, file, info.size, sha256, (sent) => progress.show('upload', sent, info.size), (id) => {
      mounting ??= startMount(id);
      mounting.catch(() => undefined); // awaited below; an early failure must not go unhandled meanwhile
    });
    progress.done();
  }

  let state = await (mounting ?? startMount(uploadId));
  // Asked for while the upload ran, that answer is as old as the upload (it showed the agent at 0 bytes).
  if (mounting) state = await call<MediaState>('GET', serverPath(serverId, 'media'));
  if (options.wait !== false) state = await follow(context, serverId, state, call, progress);
  if (state.warning) {
    // mounted, but the BMC did something other than asked: said, and not exit 0
    context.output.err(`warning: ${serverId}: ${state.warning}\n`);
    context.exitCode = ExitCode.BMC_DIFFERS;
  }
  if (options.json) context.output.out(json(state));
  else context.output.out(`${serverId}: ${state.message}\n`);
}

export async function mediaEject(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const { call } = await client(context);
  const state = await call<MediaState>('DELETE', serverPath(serverId, 'media'));
  context.output.out(options.json ? json(state) : `${serverId}: ejected\n`);
}

export async function mediaStatus(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const { call } = await client(context);
  const state = await call<MediaState>('GET', serverPath(serverId, 'media'));
  if (options.json) {
    context.output.out(json(state));
    return;
  }
  const lines = [`${serverId}: ${state.message} (${state.step})`];
  if (state.image) lines.push(`image:      ${state.image.filename}  sha256 ${state.image.sha256}`);
  if (state.mountedAt) lines.push(`mounted:    ${state.mountedAt} by ${state.mountedBy ?? '?'}`);
  if (state.autoEjectAt) lines.push(`auto-eject: ${state.autoEjectAt}`);
  if (state.error) lines.push(`error:      ${state.error.code}: ${state.error.message}`);
  if (state.warning) lines.push(`warning:    ${state.warning}`);
  context.output.out(`${lines.join('\n')}\n`);
}

/** Polls the relay's state until the action settles; a failed step becomes the error it carries. */
async function follow(
  context: CommandContext,
  serverId: string,
  first: MediaState,
  call: <T>(method: string, path: string) => Promise<T>,
  progress: ProgressBar,
): Promise<MediaState> {
  let state = first;
  let lastMessage = '';
  // bounded by the relay's own timeouts (stall and mount), which turn a hung step into `failed`
  for (let polls = 0; polls < 1_000_000; polls += 1) {
    // no bar before a byte moved: the agent may have the image already (then nothing is sent at all)
    if (state.step === 'transferring' && state.progress && state.progress.bytes > 0) {
      progress.show('to agent', state.progress.bytes, state.progress.total);
    } else {
      progress.done();
      if (state.message !== lastMessage) {
        context.output.err(`${serverId}: ${state.message}\n`);
        lastMessage = state.message;
      }
    }
    if (state.step === 'failed') {
      const code: ErrorCode = isErrorCode(state.error?.code) ? state.error.code : 'INTERNAL';
      throw new LightsoutError(code, state.error ? `${state.message}: ${state.error.message}` : state.message, { ...(state.error?.hint ? { hint: state.error.hint } : {}), details: { failedStep: state.failedStep } });
    }
    if (state.step === 'booting' || state.step === 'mounted' || state.step === 'idle') return state;
    await delay(POLL_INTERVAL_MS);
    state = await call<MediaState>('GET', serverPath(serverId, 'media'));
  }
  return state;
}

async function hashFile(file: string, size: number, onProgress: (bytes: number) => void): Promise<string> {
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

/** tus upload with retries and resumption across runs; resolves with the upload id. */
function upload(
  context: CommandContext,
  relay: string,
  tokens: TokenSource,
  file: string,
  size: number,
  sha256: string,
  onProgress: (sent: number) => void,
  onUploadId: (id: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const uploader = new Upload(createReadStream(file), {
      endpoint: `${relay}${MEDIA_UPLOADS_PATH}`,
      uploadSize: size,
      chunkSize: CHUNK_BYTES,
      fileReader: tusFileReader,
      metadata: { filename: basename(file), sha256 },
      retryDelays: [0, 1000, 3000, 5000, 10_000, 20_000],
      urlStorage: new FileUrlStorage(join(configDir(context.env), 'uploads.json')),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: async (request) => {
        request.setHeader('Authorization', `Bearer ${await tokens.token()}`);
      },
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        // the relay refused for a reason a retry will not fix (quota, checksum, auth, size)
        return status === 0 || status >= 500 || status === 409 || status === 423;
      },
      onProgress: (sent) => onProgress(sent),
      onUploadUrlAvailable: () => {
        const id = uploader.url?.split('/').pop();
        if (id) onUploadId(id);
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
          context.output.err(`resuming the upload of ${basename(file)} started ${last.creationTime}\n`);
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

/** One line on stderr, redrawn in place on a terminal, printed every 10% otherwise. */
class ProgressBar {
  private readonly tty: boolean;
  private active = false;
  private lastTenth = -1;
  private label = '';
  private startedAt = 0;
  /** Bytes already done when the bar appeared (the agent's pull runs during the upload): not counted in its rate. */
  private startBytes = 0;

  constructor(private readonly context: CommandContext) {
    this.tty = process.stderr.isTTY === true && context.env['LIGHTSOUT_PROGRESS'] !== 'lines';
  }

  show(label: string, done: number, total: number): void {
    if (label !== this.label) {
      this.done();
      this.label = label;
      this.startedAt = Date.now();
      this.startBytes = done;
      this.lastTenth = -1;
    }
    this.active = true;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const seconds = Math.max(0.001, (Date.now() - this.startedAt) / 1000);
    // too early for a rate that means anything
    const rate = seconds < 0.25 ? '' : `  ${((done - this.startBytes) / seconds / 1e6).toFixed(1)} MB/s`;
    const width = 30;
    const filled = Math.round(fraction * width);
    const line = `${label.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(done)}/${formatBytes(total)}${rate}`;
    if (this.tty) {
      this.context.output.err(`\r${line}`);
    } else {
      const tenth = Math.floor(fraction * 10);
      if (tenth !== this.lastTenth) {
        this.lastTenth = tenth;
        this.context.output.err(`${line}  (${seconds.toFixed(1)} s)\n`);
      }
    }
  }

  done(): void {
    if (this.active && this.tty) this.context.output.err('\n');
    this.active = false;
    this.label = '';
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} B`;
}
