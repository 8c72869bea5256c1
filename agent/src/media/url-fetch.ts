import { randomUUID } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { type AgentMediaUrlFetch, LightsoutError, type MediaFetchUrlParams, type MediaUrlHop } from '@lightsout/shared';
import { type MediaCache, type ResumePolicy, assertSha256 } from './cache.js';
import { errorOf } from './errors.js';
import { redactedImage } from './types.js';
import { type UrlPolicy, compileUrlPolicy } from './url-policy.js';

/**
 * Mount by URL: the agent fetches the image into its cache, hashed on the
 * way and named by its SHA-256 like an upload (so the same ISO from two
 * URLs, or uploaded too, is kept once), then the mount goes on as for an
 * upload. Every request of a fetch obeys the tenant's policy (url-policy.ts):
 *
 *   - the scheme is http or https, the host is allowed;
 *   - redirects are followed by hand (at most MAX_REDIRECTS), each Location
 *     checked like the first URL — a redirect to a host the policy does not
 *     allow ends the fetch;
 *   - the connection goes only to addresses checked at connect time (the
 *     socket's own DNS lookup is the checked one, so a name cannot resolve
 *     to one address when checked and another when connected);
 *   - the server must announce the size (Content-Length), within maxBytes.
 *
 * A transfer cut midway continues with `Range: bytes=N-` and `If-Range`
 * (the first answer's ETag or Last-Modified, RFC 9110 §13.1.5): a server
 * whose image changed meanwhile answers 200, and the fetch fails rather than
 * stitch two images together.
 */
export const MAX_REDIRECTS = 5;
/**
 * A finished fetch's outcome is kept until the relay has read it: its job polls every second or two and
 * stops at the outcome. An hour, and the newest 1,000, leave room for a relay that fails over meanwhile
 * and bound what fetches the relay starts and never reads again can hold.
 */
export const FINISHED_FETCH_KEEP_MS = 3_600_000;
export const FINISHED_FETCHES_KEPT = 1000;
const HEADERS_TIMEOUT_MS = 30_000;
const BODY_TIMEOUT_MS = 60_000;

export interface UrlFetchContext {
  logger: Logger;
  track: (work: Promise<unknown>) => void;
  /** The agent's own networks as CIDR: internal addresses whatever their range (default: from the interfaces). */
  agentNetworks?: () => string[];
  resume?: ResumePolicy;
  onTransfer?: (event: 'started' | 'cached' | 'failed') => void;
  /** Milliseconds for the finished fetches' age (tests pass their own clock). */
  now?: () => number;
}

/** One fetch's connection pool, whose sockets connect only to checked addresses; `resolved`: the address each host name was connected to. */
type CheckedDispatcher = Agent & { resolved: Map<string, string> };

/** Where a fetch stands between its requests. */
interface Opened {
  body: Readable;
  size: number;
  finalUrl: URL;
  validator: string | undefined;
}

export class MediaUrlFetches {
  private readonly fetches = new Map<string, AgentMediaUrlFetch>();
  /** When each finished fetch finished, oldest first: pruned past FINISHED_FETCH_KEEP_MS or FINISHED_FETCHES_KEPT. */
  private readonly finished = new Map<string, number>();
  /** Running fetches by URL and expected hash: a second mount of the same URL shares the first one's bytes. */
  private readonly running = new Map<string, string>();
  private readonly aborts = new Set<AbortController>();

  constructor(
    private readonly cache: MediaCache,
    private readonly context: UrlFetchContext,
  ) {}

  /** Checks the URL against the policy at once (typed error), then fetches in the background. */
  start(params: MediaFetchUrlParams): { fetchId: string } {
    if (params.sha256 !== undefined) assertSha256(params.sha256);
    const policy = compileUrlPolicy(params.allow, this.agentNetworks());
    const url = checkedUrl(params.url, policy);
    const key = `${params.sha256 ?? ''} ${url.href}`;
    const running = this.running.get(key);
    if (running !== undefined) return { fetchId: running };
    const fetchId = randomUUID();
    const state: AgentMediaUrlFetch = { fetchId, state: 'fetching', bytes: 0, size: null, sha256: null, filename: fileNameOf(url), hops: [], resumes: 0 };
    this.fetches.set(fetchId, state);
    this.prune();
    // Only when the relay vouches that the tenant holds these bytes itself: the cache is shared by every tenant's mounts.
    if (params.sha256 !== undefined && params.reuseCached === true && this.cache.has(params.sha256)) {
      Object.assign(state, { state: 'cached', sha256: params.sha256, size: this.cache.sizeOf(params.sha256) ?? 0, bytes: this.cache.sizeOf(params.sha256) ?? 0 });
      this.finish(fetchId);
      return { fetchId };
    }
    this.running.set(key, fetchId);
    this.context.onTransfer?.('started');
    this.context.track(
      this.run(url, policy, params, state)
        .then(
          (sha256) => {
            Object.assign(state, { state: 'cached', sha256, bytes: state.size ?? state.bytes });
            this.context.onTransfer?.('cached');
            this.context.logger.info({ url: redactedImage(url.href), sha256, size: state.size, hops: state.hops, resumes: state.resumes }, 'image fetched by URL');
          },
          (error: unknown) => {
            state.state = 'failed';
            state.error = errorOf(error);
            this.context.onTransfer?.('failed');
            this.context.logger.warn({ url: redactedImage(url.href), hops: state.hops, err: error }, 'image fetch by URL failed');
          },
        )
        .finally(() => {
          this.running.delete(key);
          this.finish(fetchId);
        }),
    );
    return { fetchId };
  }

  of(fetchId: string): AgentMediaUrlFetch | null {
    const state = this.fetches.get(fetchId);
    return state ? { ...state, hops: [...state.hops] } : null;
  }

  private finish(fetchId: string): void {
    this.finished.set(fetchId, this.now());
    this.prune();
  }

  /** Drops the finished fetches past their time, and the oldest past the count; running ones stay. */
  private prune(): void {
    const oldest = this.now() - FINISHED_FETCH_KEEP_MS;
    for (const [fetchId, finishedAt] of this.finished) {
      if (finishedAt >= oldest && this.finished.size <= FINISHED_FETCHES_KEPT) break;
      this.finished.delete(fetchId);
      this.fetches.delete(fetchId);
    }
  }

  private now(): number {
    return this.context.now?.() ?? Date.now();
  }

  abortAll(): void {
    for (const controller of this.aborts) controller.abort();
  }

  private agentNetworks(): string[] {
    if (this.context.agentNetworks) return this.context.agentNetworks();
    return Object.values(networkInterfaces())
      .flatMap((addresses) => addresses ?? [])
      .map((address) => address.cidr)
      .filter((cidr): cidr is string => cidr !== null);
  }

  private async run(url: URL, policy: UrlPolicy, params: MediaFetchUrlParams, state: AgentMediaUrlFetch): Promise<string> {
    const controller = new AbortController();
    this.aborts.add(controller);
    const resolved = new Map<string, string>();
    const dispatcher: CheckedDispatcher = Object.assign(new Agent({ connect: { lookup: checkedLookup(policy, resolved) }, headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: BODY_TIMEOUT_MS }), { resolved });
    try {
      const first = await this.follow(url, policy, dispatcher, controller.signal, state, params.maxBytes);
      state.size = first.size;
      state.filename = fileNameOf(first.finalUrl);
      let unused: Readable | undefined = first.body;
      const open = async (offset: number): Promise<Readable> => {
        if (controller.signal.aborted) throw new LightsoutError('AGENT_OFFLINE', 'the agent is stopping');
        if (offset === 0 && unused) {
          const body = unused;
          unused = undefined;
          return body;
        }
        state.resumes += 1;
        return this.reopen(first, offset, policy, dispatcher, controller.signal, state);
      };
      const sha256 = await this.cache.ingestUnnamed(first.size, open, (bytes) => (state.bytes = bytes), this.context.resume);
      if (params.sha256 !== undefined && sha256 !== params.sha256) {
        throw new LightsoutError('CHECKSUM_MISMATCH', `the image at the URL has SHA-256 ${sha256}, not the ${params.sha256} asked for`, { details: { expected: params.sha256, actual: sha256 } });
      }
      return sha256;
    } finally {
      this.aborts.delete(controller);
      await dispatcher.close().catch(() => undefined);
    }
  }

  /** GET, following redirects by hand: every hop's URL is checked before it is requested. */
  private async follow(start: URL, policy: UrlPolicy, dispatcher: CheckedDispatcher, signal: AbortSignal, state: AgentMediaUrlFetch, maxBytes: number): Promise<Opened> {
    let url = start;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const record: MediaUrlHop = { url: redactedImage(url.href) ?? '', address: literalAddress(url), status: null };
      state.hops.push(record);
      const response = await send(url, {}, dispatcher, signal, record);
      record.status = response.statusCode;
      if (response.statusCode >= 300 && response.statusCode < 400 && response.statusCode !== 304) {
        response.body.resume();
        const location = response.headers['location'];
        if (typeof location !== 'string') throw new LightsoutError('MEDIA_URL_FETCH_FAILED', `${record.url} answered ${response.statusCode} without a Location`);
        url = checkedUrl(new URL(location, url).href, policy, `the redirect from ${record.url}`);
        continue;
      }
      if (response.statusCode !== 200) {
        response.body.resume();
        throw new LightsoutError('MEDIA_URL_FETCH_FAILED', `${record.url} answered HTTP ${response.statusCode}`, { details: { hops: state.hops } });
      }
      const size = contentLength(response.headers['content-length']);
      if (size === undefined) {
        response.body.destroy();
        throw new LightsoutError('MEDIA_URL_FETCH_FAILED', `${record.url} did not announce the image size (Content-Length)`, { hint: 'serve the image as a plain file (not chunked): the agent checks the size limit and resumes by byte offset' });
      }
      if (size > maxBytes) {
        response.body.destroy();
        throw new LightsoutError('PAYLOAD_TOO_LARGE', `the image at ${record.url} is ${size} bytes, over the limit of ${maxBytes}`);
      }
      const etag = header(response.headers['etag']);
      // a weak ETag cannot validate a byte range (RFC 9110 §13.1.5): fall back to the date
      const validator = etag !== undefined && !etag.startsWith('W/') ? etag : header(response.headers['last-modified']);
      return { body: response.body as unknown as Readable, size, finalUrl: url, validator };
    }
    throw new LightsoutError('MEDIA_URL_FETCH_FAILED', `more than ${MAX_REDIRECTS} redirects from ${redactedImage(start.href)}`, { details: { hops: state.hops } });
  }

  /** The rest of the image from `offset`, from the URL the redirects ended at (checked again: its address may have changed). */
  private async reopen(first: Opened, offset: number, policy: UrlPolicy, dispatcher: CheckedDispatcher, signal: AbortSignal, state: AgentMediaUrlFetch): Promise<Readable> {
    checkedUrl(first.finalUrl.href, policy);
    const record: MediaUrlHop = { url: redactedImage(first.finalUrl.href) ?? '', address: literalAddress(first.finalUrl), status: null };
    state.hops.push(record);
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-`, ...(first.validator ? { 'if-range': first.validator } : {}) } : {};
    const response = await send(first.finalUrl, headers, dispatcher, signal, record);
    record.status = response.statusCode;
    const expected = offset > 0 ? 206 : 200;
    const range = header(response.headers['content-range']);
    const rangeOk = offset === 0 || (range !== undefined && new RegExp(`^bytes ${offset}-${first.size - 1}/(${first.size}|\\*)$`).test(range));
    if (response.statusCode !== expected || !rangeOk || (offset === 0 && contentLength(response.headers['content-length']) !== first.size)) {
      response.body.destroy();
      throw new LightsoutError('MEDIA_URL_FETCH_FAILED', `${record.url} could not continue the cut transfer from byte ${offset}: HTTP ${response.statusCode}${range ? ` (${range})` : ''}`, {
        hint: response.statusCode === 200 ? 'the server does not serve byte ranges, or the image changed meanwhile: mount again to fetch it whole' : 'mount again',
        details: { hops: state.hops },
      });
    }
    this.context.logger.info({ url: record.url, offset }, 'image fetch by URL resumed');
    return response.body as unknown as Readable;
  }
}

/** The URL if the policy allows it, else MEDIA_URL_NOT_ALLOWED naming what refused it. */
function checkedUrl(text: string, policy: UrlPolicy, what = 'the image URL'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LightsoutError('VALIDATION_FAILED', `${what} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LightsoutError('MEDIA_URL_NOT_ALLOWED', `${what} is ${url.protocol} — only http and https are fetched`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowsHost(host)) {
    throw new LightsoutError('MEDIA_URL_NOT_ALLOWED', `${what} goes to ${host}, which the tenant's media URL policy does not allow`, { details: { host, url: redactedImage(url.href) } });
  }
  const literal = literalAddress(url);
  if (literal !== null && !policy.allowsAddress(literal)) {
    throw new LightsoutError('MEDIA_URL_NOT_ALLOWED', `${what} goes to the internal address ${literal}, which the policy does not allow by address`, { details: { host, address: literal } });
  }
  return url;
}

/**
 * The socket's DNS lookup, checked: every address the name resolves to must
 * be allowed, or the connection is refused before it is made. Node calls it
 * for host names only (IP literals are checked in checkedUrl).
 */
function checkedLookup(policy: UrlPolicy, resolved: Map<string, string>): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, ...(options.family ? { family: options.family } : {}) }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      if (addresses[0]) resolved.set(hostname, addresses[0].address);
      const refused = addresses.find((entry) => !policy.allowsAddress(entry.address));
      if (refused || addresses.length === 0) {
        const refusal = new LightsoutError('MEDIA_URL_NOT_ALLOWED', `${hostname} resolves to ${refused?.address ?? 'no address'}, an internal address the tenant's media URL policy does not allow by address`, {
          details: { host: hostname, address: refused?.address ?? null },
        });
        return callback(refusal as NodeJS.ErrnoException, '', 4);
      }
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

async function send(url: URL, headers: Record<string, string>, dispatcher: CheckedDispatcher, signal: AbortSignal, record: MediaUrlHop) {
  try {
    return await request(url, { method: 'GET', headers: { 'user-agent': 'lightsout-agent', ...headers }, dispatcher, signal, highWaterMark: 1024 * 1024 });
  } catch (error) {
    const refusal = policyRefusal(error);
    if (refusal) throw refusal;
    if (error instanceof LightsoutError) throw error;
    throw new LightsoutError('MEDIA_URL_FETCH_FAILED', `could not fetch ${record.url}: ${(error as Error).message}`, { cause: error });
  } finally {
    record.address ??= dispatcher.resolved.get(url.hostname) ?? null;
  }
}

/** The policy's refusal inside undici's connect error, if that is why the connection failed. */
function policyRefusal(error: unknown): LightsoutError | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth += 1) {
    if (current instanceof LightsoutError && current.code === 'MEDIA_URL_NOT_ALLOWED') return current;
  }
  return undefined;
}

function literalAddress(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? host : null;
}

function contentLength(value: string | string[] | undefined): number | undefined {
  const text = header(value);
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  const size = Number(text);
  return Number.isSafeInteger(size) ? size : undefined;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The final URL's last path segment, as the user will recognise the image. */
function fileNameOf(url: URL): string {
  const segment = url.pathname.split('/').pop() ?? '';
  let name = segment;
  try {
    name = decodeURIComponent(segment);
  } catch {
    // a malformed escape: keep it as written
  }
  const printable = [...name].map((character) => (character.charCodeAt(0) < 0x20 || character === '\\' || character === '/' ? '_' : character)).join('');
  return printable.slice(0, 255) || 'image.iso';
}
