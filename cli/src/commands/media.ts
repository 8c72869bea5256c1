import { mkdir, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LightsoutError, type ErrorCode, type MediaState, isErrorCode } from '@lightsout/shared';
import { type RelayApi, serverPath } from '../api.js';
import { configDir } from '../config-store.js';
import { ExitCode } from '../exit-codes.js';
import { json, printable } from '../output.js';
import { ProgressBar } from '../progress-bar.js';
import { hashFile, uploadFile } from '../upload.js';
import { apiFor, type CommandContext } from './context.js';

/**
 * `lightsout media mount|eject|status`: the one action from a terminal.
 * mount = hash the file, ask the relay to mount it as soon as it has an
 * upload id (step-up, permission and conflicts are settled then, before a
 * byte is sent), upload it with tus (upload.ts), then follow the state with a
 * progress bar until the server boots from it or a step fails.
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

export interface MediaMountOptions {
  boot?: boolean;
  replace?: boolean;
  json?: boolean;
  wait?: boolean;
  /** With a URL: the SHA-256 the fetched image must have (the agent skips the fetch when it has it and your tenant uploaded it). */
  sha256?: string;
}

/** `file` may be an http(s) URL: then the agent fetches the image (mount by URL), nothing is uploaded. */
export async function mediaMount(context: CommandContext, serverId: string, file: string, options: MediaMountOptions): Promise<void> {
  if (/^https?:\/\//i.test(file)) return mediaMountUrl(context, serverId, file, options);
  if (options.sha256 !== undefined) throw new LightsoutError('BAD_REQUEST', '--sha256 goes with a URL; a file is hashed here');
  const api = await apiFor(context);
  const info = await stat(file).catch(() => {
    throw new LightsoutError('BAD_REQUEST', `cannot read ${file}`);
  });
  if (!info.isFile()) throw new LightsoutError('BAD_REQUEST', `${file} is not a file`);
  // refuse early (unknown server, IPMI-only BMC, no permission) instead of after hashing gigabytes
  await api.get<MediaState>(serverPath(serverId, 'media'));
  const progress = new ProgressBar(context.output, context.env);

  const sha256 = await hashFile(file, info.size, (bytes) => progress.show('hashing', bytes, info.size));
  progress.done();
  // only images its agent has count: an upload is stored in the cache of the agent it was sent to
  const { images } = await api.get<{ images: MediaImageView[] }>(`/v1/media/images?server=${encodeURIComponent(serverId)}`);
  let uploadId = images.find((image) => image.sha256 === sha256)?.uploadId;
  const body = (id: string) => ({ uploadId: id, boot: options.boot === true, ...(options.replace ? { replace: true } : {}) });
  /** Asks for the mount; a job already running for this image (an interrupted earlier run) is followed instead. */
  const startMount = async (id: string): Promise<MediaState> => {
    try {
      return await api.post<MediaState>(serverPath(serverId, 'media'), body(id));
    } catch (error) {
      if (!(error instanceof LightsoutError) || error.code !== 'CONFLICT') throw error;
      const current = await api.get<MediaState>(serverPath(serverId, 'media'));
      if (current.image?.sha256 !== sha256) throw error;
      return current;
    }
  };
  let mounting: Promise<MediaState> | undefined;
  if (uploadId) {
    context.output.err(printable(`${basename(file)} is already uploaded for this server (sha256 ${sha256.slice(0, 12)}…), not uploading again\n`, { newlines: true }));
  } else {
    await mkdir(configDir(context.env), { recursive: true, mode: 0o700 });
    // Mount as soon as the relay has an upload id: the agent pulls the image while it is still
    // being uploaded (cut-through); the relay mounts only once the upload is complete and verified.
    // The upload sends no byte before the relay accepted the mount (a stale sign-in steps up first).
    uploadId = await uploadFile({
      api,
      file,
      size: info.size,
      sha256,
      serverId,
      env: context.env,
      output: context.output,
      onProgress: (sent) => progress.show('upload', sent, info.size),
      beforeBytes: (id) => (mounting = startMount(id)),
    });
    progress.done();
  }

  let state = await (mounting ?? startMount(uploadId));
  // Asked for while the upload ran, that answer is as old as the upload (it showed the agent at 0 bytes).
  if (mounting) state = await api.get<MediaState>(serverPath(serverId, 'media'));
  if (options.wait !== false) state = await follow(context, serverId, state, api, progress);
  if (state.warning) {
    // mounted, but the BMC did something other than asked: said, and not exit 0
    context.output.err(printable(`warning: ${serverId}: ${state.warning}\n`, { newlines: true }));
    context.exitCode = ExitCode.BMC_DIFFERS;
  }
  if (options.json) context.output.out(json(state));
  else context.output.out(printable(`${serverId}: ${state.message}\n`, { newlines: true }));
}

/**
 * Mount by URL: the relay checks the tenant's media URL policy, the agent
 * fetches the image (every redirect and address checked again there), then
 * the mount goes on as for an upload.
 */
async function mediaMountUrl(context: CommandContext, serverId: string, url: string, options: MediaMountOptions): Promise<void> {
  const api = await apiFor(context);
  if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(options.sha256)) throw new LightsoutError('BAD_REQUEST', '--sha256 takes 64 lower-case hex digits');
  const body = { url, boot: options.boot === true, ...(options.replace ? { replace: true } : {}), ...(options.sha256 ? { sha256: options.sha256 } : {}) };
  let state = await api.post<MediaState>(serverPath(serverId, 'media'), body);
  if (options.wait !== false) state = await follow(context, serverId, state, api, new ProgressBar(context.output, context.env));
  if (state.warning) {
    context.output.err(printable(`warning: ${serverId}: ${state.warning}\n`, { newlines: true }));
    context.exitCode = ExitCode.BMC_DIFFERS;
  }
  if (options.json) context.output.out(json(state));
  else context.output.out(printable(`${serverId}: ${state.message}\n`, { newlines: true }));
}

export async function mediaEject(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const state = await (await apiFor(context)).request<MediaState>('DELETE', serverPath(serverId, 'media'), undefined);
  context.output.out(options.json ? json(state) : printable(`${serverId}: ${state.message}\n`, { newlines: true }));
}

export async function mediaStatus(context: CommandContext, serverId: string, options: { json?: boolean }): Promise<void> {
  const state = await (await apiFor(context)).get<MediaState>(serverPath(serverId, 'media'));
  if (options.json) {
    context.output.out(json(state));
    return;
  }
  const lines = [`${serverId}: ${state.message} (${state.step})`];
  if (state.image) lines.push(`image:      ${state.image.filename}  sha256 ${state.image.sha256 || '(still fetching)'}`);
  if (state.image?.url) lines.push(`from:       ${state.image.url}`);
  if (state.mountedAt) lines.push(`mounted:    ${state.mountedAt} by ${state.mountedBy ?? '?'}`);
  if (state.autoEjectAt) lines.push(`auto-eject: ${state.autoEjectAt}`);
  if (state.error) lines.push(`error:      ${state.error.code}: ${state.error.message}`);
  if (state.warning) lines.push(`warning:    ${state.warning}`);
  context.output.out(`${lines.map((line) => printable(line)).join('\n')}\n`);
}

/** Polls the relay's state until the action settles; a failed step becomes the error it carries. */
async function follow(
  context: CommandContext,
  serverId: string,
  first: MediaState,
  api: RelayApi,
  progress: ProgressBar,
): Promise<MediaState> {
  let state = first;
  let lastMessage = '';
  // bounded by the relay's own timeouts (stall and mount), which turn a hung step into `failed`
  for (let polls = 0; polls < 1_000_000; polls += 1) {
    // no bar before a byte moved: the agent may have the image already (then nothing is sent at all)
    if (state.step === 'transferring' && state.progress && state.progress.bytes > 0) {
      progress.show(state.image?.url ? 'fetching' : 'to agent', state.progress.bytes, state.progress.total);
    } else {
      progress.done();
      if (state.message !== lastMessage) {
        context.output.err(printable(`${serverId}: ${state.message}\n`, { newlines: true }));
        lastMessage = state.message;
      }
    }
    if (state.step === 'failed') {
      const code: ErrorCode = isErrorCode(state.error?.code) ? state.error.code : 'INTERNAL';
      throw new LightsoutError(code, state.error ? `${state.message}: ${state.error.message}` : state.message, { ...(state.error?.hint ? { hint: state.error.hint } : {}), details: { failedStep: state.failedStep } });
    }
    if (state.step === 'booting' || state.step === 'mounted' || state.step === 'idle') return state;
    await delay(POLL_INTERVAL_MS);
    state = await api.get<MediaState>(serverPath(serverId, 'media'));
  }
  return state;
}
