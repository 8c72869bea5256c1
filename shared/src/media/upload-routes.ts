import { MEDIA_UPLOADS_PATH, UPLOAD_ID_PATTERN } from '../schemas/media.js';

/**
 * tus requests of an upload sent to where its agent is now
 * (docs/virtual-media.md "Uploads into the agent"). An upload's bytes are
 * taken only by the gateway holding the agent of its server; when that
 * gateway dies, the agent moves to another one. So: once a request of an
 * upload fails to connect, answers 5xx or 421 WRONG_GATEWAY, its next HEAD
 * (tus-js-client sends one before it resumes) goes to the deployment URL,
 * which answers the agent's offset and `Lightsout-Upload-Url`, the gateway
 * holding the agent now; the PATCHes that follow go there.
 *
 * An HTTP stack for tus-js-client that wraps another one (its Node stack in
 * the CLI, its XMLHttpRequest stack in the web console). The interfaces
 * below are the part of tus-js-client's `HttpStack` this needs, declared
 * here so this package stays free of I/O and of the library itself.
 */
export interface TusHttpResponse {
  getStatus(): number;
  getHeader(header: string): string | undefined;
  getBody(): string;
  getUnderlyingObject(): unknown;
}

export interface TusHttpRequest {
  getMethod(): string;
  getURL(): string;
  setHeader(header: string, value: string): void;
  getHeader(header: string): string | undefined;
  setProgressHandler(handler: (bytesSent: number) => void): void;
  send(body?: unknown): Promise<TusHttpResponse>;
  abort(): Promise<void>;
  getUnderlyingObject(): unknown;
}

export interface TusHttpStack {
  createRequest(method: string, url: string): TusHttpRequest;
  getName(): string;
}

/** The response header with the URL an upload's bytes go to now (a deployment's answer to HEAD). */
export const UPLOAD_URL_HEADER = 'Lightsout-Upload-Url';

const UPLOAD_ID = new RegExp(UPLOAD_ID_PATTERN);

export class UploadRoutes implements TusHttpStack {
  /** Upload id → the URL its bytes go to now, learned from the deployment's HEAD answers. */
  readonly current = new Map<string, string>();
  /** Uploads whose last request failed where it went: their next HEAD asks the deployment. */
  readonly lost = new Set<string>();

  constructor(
    readonly base: TusHttpStack,
    readonly deploymentUrl: string,
  ) {}

  createRequest(method: string, url: string): TusHttpRequest {
    return new RoutedRequest(this, method, url);
  }

  getName(): string {
    return `lightsout-routes(${this.base.getName()})`;
  }

  /** Where a request for `url` goes. */
  target(method: string, url: string): string {
    const id = uploadIdOf(url);
    if (id === undefined) return url;
    if (method === 'HEAD' && this.lost.has(id)) return `${this.deploymentUrl.replace(/\/+$/, '')}${MEDIA_UPLOADS_PATH}/${id}`;
    return this.current.get(id) ?? url;
  }

  /** What an answer (or a failure: undefined) says about where the upload is. */
  learn(method: string, url: string, response: TusHttpResponse | undefined): void {
    const id = uploadIdOf(url);
    if (id === undefined) return;
    const status = response?.getStatus() ?? 0;
    // 0: no answer at all (refused, reset; a browser's XHR reports a network error so).
    if (status === 0 || status >= 500 || status === 421) {
      this.lost.add(id);
      return;
    }
    // Only a HEAD the deployment answered says where the upload is; a 423 (the agent between gateways) says ask again.
    if (method !== 'HEAD' || status < 200 || status >= 300) return;
    this.lost.delete(id);
    const now = response?.getHeader(UPLOAD_URL_HEADER);
    if (now) this.current.set(id, now);
  }
}

/** The upload id an upload URL ends with, if it is one. */
export function uploadIdOf(url: string): string | undefined {
  const last = url.split('?')[0]!.split('/').at(-1) ?? '';
  return UPLOAD_ID.test(last) ? last : undefined;
}

/** A request whose URL is settled when it is sent (after a failure, the route may have changed meanwhile). */
class RoutedRequest implements TusHttpRequest {
  private readonly headers = new Map<string, string>();
  private progress: ((bytesSent: number) => void) | undefined;
  private inner: TusHttpRequest | undefined;

  constructor(
    private readonly routes: UploadRoutes,
    private readonly method: string,
    private readonly url: string,
  ) {}

  getMethod(): string {
    return this.method;
  }

  getURL(): string {
    return this.url;
  }

  setHeader(header: string, value: string): void {
    this.headers.set(header, value);
  }

  getHeader(header: string): string | undefined {
    return this.headers.get(header);
  }

  setProgressHandler(handler: (bytesSent: number) => void): void {
    this.progress = handler;
  }

  async send(body?: unknown): Promise<TusHttpResponse> {
    const inner = this.routes.base.createRequest(this.method, this.routes.target(this.method, this.url));
    this.inner = inner;
    for (const [header, value] of this.headers) inner.setHeader(header, value);
    if (this.progress) inner.setProgressHandler(this.progress);
    let response: TusHttpResponse;
    try {
      response = await inner.send(body);
    } catch (error) {
      this.routes.learn(this.method, this.url, undefined);
      throw error;
    }
    this.routes.learn(this.method, this.url, response);
    return response;
  }

  async abort(): Promise<void> {
    await this.inner?.abort();
  }

  getUnderlyingObject(): unknown {
    return this.inner?.getUnderlyingObject();
  }
}
