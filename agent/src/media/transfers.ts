import type { Logger } from 'pino';
import { request } from 'undici';
import { type AgentMediaTransfer, LightsoutError, type MediaFetchParams } from '@lightsout/shared';
import { type MediaCache, type ResumePolicy, UPLOAD_KEY_PATTERN } from './cache.js';
import { errorOf } from './errors.js';

/**
 * Image transfers into the agent's cache: one per upload (its pull path),
 * pulled from the relay over a dial-back HTTP connection (streamed, SHA-256
 * verified, resumed with `Range` when cut). Two uploads of one image each
 * write and verify their own file (each client proves its bytes); the first
 * to finish is the cached image, the other's file is dropped at its end.
 * An upload's partial file outlives a cut and an agent restart (cache.ts),
 * so its next pull continues where the file ends. The state of each is kept
 * for `media.status` until the agent stops.
 */
export interface TransferContext {
  /** Base URL of the relay the agent is connected to now (the one that asked for the transfer). */
  relay: () => string;
  logger: Logger;
  signJwt: () => Promise<string>;
  /** A transfer began or ended (metrics). */
  onTransfer?: (event: 'started' | 'cached' | 'failed') => void;
  /** Runs `work` in the background, awaited at stop. */
  track: (work: Promise<unknown>) => void;
  resume?: ResumePolicy;
}

export class MediaTransfers {
  private readonly transfers = new Map<string, AgentMediaTransfer>();
  private readonly aborts = new Set<AbortController>();
  /** The running pull of each pull path: a discard stops it. */
  private readonly pulls = new Map<string, AbortController>();
  /** Pull paths the relay discarded while their pull ran: its next try ends as if the relay had answered 404. */
  private readonly discarded = new Set<string>();

  constructor(
    private readonly cache: MediaCache,
    private readonly context: TransferContext,
  ) {}

  /** Starts pulling `params.sha256` from the relay unless it is cached or this pull is already running; true when cached. */
  fromRelay(params: MediaFetchParams): boolean {
    const upload = uploadOf(params.pullPath);
    if (this.cache.has(params.sha256)) {
      // another upload stored it meanwhile: the relay has this one's client prove its bytes instead, nothing of its file is needed
      if (upload !== undefined) this.context.track(this.cache.discardPartial(upload));
      return true;
    }
    const running = this.transfers.get(params.pullPath);
    if (running?.state === 'fetching' && running.sha256 === params.sha256) return false;
    const kept = upload === undefined ? undefined : this.cache.partialOf(upload);
    const transfer: AgentMediaTransfer = { sha256: params.sha256, state: 'fetching', bytes: kept?.sha256 === params.sha256 ? Math.min(kept.bytes, params.size) : 0, size: params.size };
    this.transfers.set(params.pullPath, transfer);
    this.context.onTransfer?.('started');
    this.context.track(
      this.pull(params, transfer).then(
        () => {
          transfer.state = 'cached';
          transfer.bytes = params.size;
          this.context.onTransfer?.('cached');
        },
        (error: unknown) => {
          transfer.state = 'failed';
          this.context.onTransfer?.('failed');
          transfer.error = errorOf(error);
          this.context.logger.warn({ sha256: params.sha256, err: error }, 'image transfer from the relay failed');
        },
      ),
    );
    return false;
  }

  /**
   * What the agent has of one image: cached, coming, failed or absent. With
   * `pullPath`, of that upload: its own transfer's state even when another
   * upload stored the same image meanwhile (its own bytes are still to be
   * verified: "cached" would vouch for bytes it never checked), or its kept
   * partial file (`partial`, e.g. after a restart). A `cached` answer then
   * says whether it was this upload's bytes that matched (`verified`): the
   * relay marks the upload verified on that alone, and on no hash.
   */
  of(sha256: string, pullPath?: string): AgentMediaTransfer {
    if (pullPath !== undefined) {
      const own = this.transfers.get(pullPath);
      const upload = uploadOf(pullPath);
      const kept = upload === undefined ? undefined : this.cache.partialOf(upload);
      const partial = kept?.sha256 === sha256 ? kept : undefined;
      if (own?.sha256 === sha256) {
        // a cut that used up its tries leaves the file: the next pull continues it
        if (own.state === 'failed' && partial) return { sha256, state: 'partial', bytes: partial.bytes, size: own.size };
        // its pull ended cached only after its own bytes matched (cache.ts checks every upload's own file)
        return own.state === 'cached' ? { ...own, verified: true } : own;
      }
      const size = this.cache.sizeOf(sha256);
      if (size !== undefined) return { sha256, state: 'cached', bytes: size, size, verified: false };
      if (partial) return { sha256, state: 'partial', bytes: partial.bytes, size: 0 };
      return { sha256, state: 'absent', bytes: 0, size: 0 };
    }
    const size = this.cache.sizeOf(sha256);
    if (size !== undefined) return { sha256, state: 'cached', bytes: size, size };
    return [...this.transfers.values()].reverse().find((transfer) => transfer.sha256 === sha256) ?? { sha256, state: 'absent', bytes: 0, size: 0 };
  }

  /**
   * The relay no longer has the upload (expired unfinished, or deleted): a
   * running pull stops, and its partial file goes as when the relay answers
   * a pull `404` (the pull's own end removes it); a file kept with no pull
   * running goes now. True when the agent held something of it.
   */
  async discard(pullPath: string): Promise<boolean> {
    const upload = uploadOf(pullPath);
    if (upload === undefined) return false;
    const pull = this.pulls.get(pullPath);
    if (pull) {
      this.discarded.add(pullPath);
      pull.abort();
      return true;
    }
    this.transfers.delete(pullPath);
    const kept = this.cache.partialOf(upload) !== undefined;
    await this.cache.discardPartial(upload);
    return kept;
  }

  abortAll(): void {
    for (const controller of this.aborts) controller.abort();
  }

  /**
   * GET the image from the relay (agent JWT) and stream it into the cache:
   * backpressure end to end. A cut transfer resumes where the disk ends with
   * `Range: bytes=N-` (the cache's resume policy); each try signs a fresh
   * JWT, since a try may start long after the first one's token expired.
   */
  private async pull(params: MediaFetchParams, transfer: AgentMediaTransfer): Promise<void> {
    const controller = new AbortController();
    this.aborts.add(controller);
    this.pulls.set(params.pullPath, controller);
    const open = async (offset: number) => {
      if (this.discarded.has(params.pullPath)) throw new LightsoutError('NOT_FOUND', 'the relay discarded this upload (expired or deleted)');
      if (controller.signal.aborted) throw new LightsoutError('AGENT_OFFLINE', 'the agent is stopping');
      // undici's stream API (not fetch): Node streams all the way, no WHATWG stream hop per chunk
      const response = await request(new URL(params.pullPath, `${this.context.relay()}/`), {
        headers: { authorization: `Bearer ${await this.context.signJwt()}`, ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
        signal: controller.signal,
        highWaterMark: 1024 * 1024,
      });
      const expected = offset > 0 ? 206 : 200;
      if (response.statusCode !== expected) {
        const body = await response.body.text().catch(() => '');
        // the relay has no such upload (deleted, expired, another agent's): its partial file goes too
        if (GONE.has(response.statusCode)) throw new LightsoutError('NOT_FOUND', `the relay no longer has this upload: HTTP ${response.statusCode}`, { details: { body: body.slice(0, 300) } });
        throw new LightsoutError('AGENT_OFFLINE', `relay refused the image transfer${offset > 0 ? ` from byte ${offset}` : ''}: HTTP ${response.statusCode}`, { details: { body: body.slice(0, 300) } });
      }
      if (offset > 0) this.context.logger.info({ sha256: params.sha256, offset }, 'image transfer resumed');
      return response.body;
    };
    try {
      await this.cache.ingest(
        params.sha256,
        params.size,
        open,
        (bytes) => {
          transfer.bytes = bytes;
        },
        this.context.resume,
        uploadOf(params.pullPath),
      );
    } catch (error) {
      if (!this.discarded.has(params.pullPath)) throw error;
      // stopped by a discard: whatever the cut kept goes (the write that held the file has ended)
      const upload = uploadOf(params.pullPath);
      if (upload !== undefined) await this.cache.discardPartial(upload);
      throw new LightsoutError('NOT_FOUND', 'the relay discarded this upload (expired or deleted)');
    } finally {
      this.aborts.delete(controller);
      this.pulls.delete(params.pullPath);
      this.discarded.delete(params.pullPath);
    }
  }
}

/** Answers of the pull route meaning the upload is gone for this agent (not a cut worth retrying). */
const GONE = new Set([403, 404, 410]);

/** The upload id at the end of a pull path (`/v1/agent/media/{id}`), when it is one. */
function uploadOf(pullPath: string): string | undefined {
  const last = pullPath.split('/').at(-1) ?? '';
  return UPLOAD_KEY_PATTERN.test(last) ? last : undefined;
}
