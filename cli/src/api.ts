import type { TokenSource } from './auth/session.js';
import { errorOf, readJson, send } from './http.js';

/** The relay's REST API with the caller's bearer token; one renewal on 401. */
export class RelayApi {
  readonly relay: string;
  readonly #tokens: TokenSource;

  constructor(relay: string, tokens: TokenSource) {
    this.relay = relay;
    this.#tokens = tokens;
  }

  get<T>(path: string): Promise<T> {
    return this.#request<T>('GET', path, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body);
  }

  async #request<T>(method: string, path: string, body: unknown, renewed = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${await this.#tokens.token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await send(`${this.relay}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (response.status === 401 && !renewed && (await this.#tokens.renew())) return this.#request<T>(method, path, body, true);
    if (!response.ok) throw await errorOf(response);
    return (await readJson(response)) as T;
  }
}

/** Path segment for a server id typed by a user: encoded, never interpreted. */
export function serverPath(serverId: string, rest: string): string {
  return `/v1/servers/${encodeURIComponent(serverId)}/${rest}`;
}
