import { type LightsoutError, signingInAgainHelps } from '@lightsout/shared';
import type { TokenSource } from './auth/session.js';
import { errorOf, readJson, send } from './http.js';

/**
 * Called on STEP_UP_REQUIRED (RFC 9470): sign the user in again (fresh
 * authentication) and return the token source to retry with, or undefined
 * when that is not possible (a script with LIGHTSOUT_TOKEN).
 */
export type StepUp = (challenge: LightsoutError) => Promise<TokenSource | undefined>;

/** What `raw` sends: the body as given (a string or a stream), with its own content type. */
export interface RawRequest {
  body?: string;
  headers?: Record<string, string>;
}

/**
 * The relay's REST API with the caller's bearer token: the one HTTP path of
 * every command. A 401 renews the token once; STEP_UP_REQUIRED signs the
 * user in again (when a StepUp is given) and retries once with the fresh token.
 */
export class RelayApi {
  readonly relay: string;
  #tokens: TokenSource;
  readonly #stepUp: StepUp | undefined;

  constructor(relay: string, tokens: TokenSource, stepUp?: StepUp) {
    this.relay = relay;
    this.#tokens = tokens;
    this.#stepUp = stepUp;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** A JSON request with any method; a 204 answers undefined. */
  async request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT', path: string, body: unknown): Promise<T> {
    const init: RawRequest = body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    return (await readJson(await this.raw(method, path, init))) as T;
  }

  /**
   * The successful response itself, unread (an export streamed to stdout, a
   * header the caller needs); a non-2xx answer is thrown as its coded error.
   */
  raw(method: string, path: string, init: RawRequest = {}): Promise<Response> {
    return this.#send(method, path, init, false, false);
  }

  async #send(method: string, path: string, init: RawRequest, renewed: boolean, steppedUp: boolean): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers, authorization: `Bearer ${await this.#tokens.token()}` };
    const response = await send(`${this.relay}${path}`, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
    if (response.status === 401) {
      const error = await errorOf(response);
      if (error.code === 'STEP_UP_REQUIRED') {
        // A refresh keeps the old auth_time: only a new sign-in helps, then one retry.
        const fresh = steppedUp || this.#stepUp === undefined || !signingInAgainHelps(error) ? undefined : await this.#stepUp(error);
        if (fresh === undefined) throw error;
        this.#tokens = fresh;
        return this.#send(method, path, init, renewed, true);
      }
      if (!renewed && (await this.#tokens.renew())) return this.#send(method, path, init, true, steppedUp);
      throw error;
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  /**
   * The current access token, for a request this client does not send itself
   * (tus uploads set it per request): after a step-up it is the fresh one.
   */
  token(): Promise<string> {
    return this.#tokens.token();
  }
}

/** Path segment for a server id typed by a user: encoded, never interpreted. */
export function serverPath(serverId: string, rest: string): string {
  return `/v1/servers/${encodeURIComponent(serverId)}/${rest}`;
}
