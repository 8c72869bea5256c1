import type { Logger } from 'pino';
import { request } from 'undici';
import { type AgentMediaTransfer, LightsoutError, type MediaFetchParams } from '@lightsout/shared';
import type { MediaCache, ResumePolicy } from './cache.js';
import { errorOf } from './errors.js';

/**
 * Image transfers into the agent's cache: one per image (SHA-256), pulled
 * from the relay over a dial-back HTTP connection (streamed, SHA-256
 * verified, resumed with `Range` when cut). The state of each is kept for
 * `media.status` until the agent stops.
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

  constructor(
    private readonly cache: MediaCache,
    private readonly context: TransferContext,
  ) {}

  /** Starts pulling `params.sha256` from the relay unless it is cached or already coming; true when cached. */
  fromRelay(params: MediaFetchParams): boolean {
    if (this.cache.has(params.sha256)) return true;
    if (this.transfers.get(params.sha256)?.state === 'fetching') return false;
    const transfer: AgentMediaTransfer = { sha256: params.sha256, state: 'fetching', bytes: 0, size: params.size };
    this.transfers.set(params.sha256, transfer);
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

  /** What the agent has of one image: cached, coming, failed or absent. */
  of(sha256: string): AgentMediaTransfer {
    const size = this.cache.sizeOf(sha256);
    if (size !== undefined) return { sha256, state: 'cached', bytes: size, size };
    return this.transfers.get(sha256) ?? { sha256, state: 'absent', bytes: 0, size: 0 };
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
    const open = async (offset: number) => {
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
        throw new LightsoutError('AGENT_OFFLINE', `relay refused the image transfer${offset > 0 ? ` from byte ${offset}` : ''}: HTTP ${response.statusCode}`, { details: { body: body.slice(0, 300) } });
      }
      if (offset > 0) this.context.logger.info({ sha256: params.sha256, offset }, 'image transfer resumed');
      return response.body;
    };
    try {
      await this.cache.ingest(params.sha256, params.size, open, (bytes) => {
        transfer.bytes = bytes;
      }, this.context.resume);
    } finally {
      this.aborts.delete(controller);
    }
  }
}
