import type { LightsoutError } from '@lightsout/shared';
import type { TokenSource } from './auth/session.js';
import { errorOf, readJson, send } from './http.js';

/** The relay's REST API with the caller's bearer token; one renewal on 401. */
/**
 * Called on STEP_UP_REQUIRED (RFC 9470): sign the user in again (fresh
 * authentication) and return the token source to retry with, or undefined
 * when that is not possible (a script with LIGHTSOUT_TOKEN).
 */
export type StepUp = (challenge: LightsoutError) => Promise<TokenSource | undefined>;

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
    return this.#request<T>('GET', path, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body);
  }

  /** Any other method (PATCH, DELETE); a 204 answers undefined. */
  request<T>(method: 'PATCH' | 'DELETE' | 'PUT', path: string, body: unknown): Promise<T> {
    return this.#request<T>(method, path, body);
  }

  async #request<T>(method: string, path: string, body: unknown, renewed = false, steppedUp = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${await this.#tokens.token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await send(`${this.relay}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (response.status === 401) {
      const error = await errorOf(response);
      if (error.code === 'STEP_UP_REQUIRED') {
        // A refresh keeps the old auth_time: only a new sign-in helps, then one retry.
        const fresh = steppedUp || this.#stepUp === undefined ? undefined : await this.#stepUp(error);
        if (fresh === undefined) throw error;
        this.#tokens = fresh;
        return this.#request<T>(method, path, body, renewed, true);
      }
      if (!renewed && (await this.#tokens.renew())) return this.#request<T>(method, path, body, true, steppedUp);
      throw error;
    }
    if (!response.ok) throw await errorOf(response);
    return (await readJson(response)) as T;
  }
}

/** Path segment for a server id typed by a user: encoded, never interpreted. */
export function serverPath(serverId: string, rest: string): string {
  return `/v1/servers/${encodeURIComponent(serverId)}/${rest}`;
}
