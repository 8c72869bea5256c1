import {
  type BootOverride,
  type BootRequest,
  type BootResult,
  type FleetEvents,
  type FleetSummary,
  LightsoutError,
  type PowerAction,
  type PowerResult,
  type SelList,
  type SensorHistory,
  type SensorList,
  type ServerDetail,
  type ServerIdentity,
  type ServerList,
  type SessionCreated,
  signingInAgainHelps,
  type StreamKind,
  type StreamMode,
  type WhoAmI,
} from '@lightsout/shared';
import type { MediaImageList, MediaImageView, RecordingList, RecordingListEntry, SshHostKey, SshKeyList, SshKeyView } from '@lightsout/shared';

/** A recording as the list shows it (the meta plus its size and last write). */
export type RecordingMeta = RecordingListEntry;

export interface RelayClientOptions {
  baseUrl: string;
  accessToken(): Promise<string | null>;
  /** Called when the relay answers STEP_UP_REQUIRED (the error says why, e.g. details.mfa); true → retry the request once. */
  stepUp(error: LightsoutError): Promise<boolean>;
  /** Called when the relay says the token is no good at all (log in again). */
  unauthenticated(): void;
}

/**
 * The relay's REST API as typed calls. Every failure is a LightsoutError with
 * the relay's stable code (a network failure is BMC_UNREACHABLE-free: it is
 * INTERNAL with the browser's message, since the browser hides the reason).
 */
export class RelayClient {
  readonly #options: RelayClientOptions;

  constructor(options: RelayClientOptions) {
    this.#options = options;
  }

  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, body?: unknown, retried = false): Promise<T> {
    const token = await this.#options.accessToken();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.#options.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (error) {
      throw new LightsoutError('INTERNAL', `cannot reach the relay: ${error instanceof Error ? error.message : String(error)}`, { hint: 'Check the network and the relay URL.' });
    }
    if (response.status === 204) return undefined as T;
    const payload: unknown = await response.json().catch(() => null);
    if (response.ok) return payload as T;
    const error = LightsoutError.fromBody(payload ?? { code: response.status === 404 ? 'NOT_FOUND' : 'INTERNAL', message: `HTTP ${response.status}` });
    if (error.code === 'STEP_UP_REQUIRED' && !retried && signingInAgainHelps(error)) {
      if (await this.#options.stepUp(error)) return this.request<T>(method, path, body, true);
    } else if (error.code === 'UNAUTHENTICATED' || error.code === 'TOKEN_EXPIRED' || error.code === 'TOKEN_INVALID') {
      this.#options.unauthenticated();
    }
    throw error;
  }

  me(): Promise<WhoAmI> {
    return this.request('GET', '/v1/me');
  }
  async servers(): Promise<ServerList['servers']> {
    const list = await this.request<ServerList | ServerList['servers']>('GET', '/v1/servers');
    return Array.isArray(list) ? list : list.servers;
  }
  power(serverId: string, action: PowerAction): Promise<PowerResult> {
    return this.request('POST', `/v1/servers/${encodeURIComponent(serverId)}/power`, { action });
  }
  boot(serverId: string): Promise<BootOverride> {
    return this.request('GET', `/v1/servers/${encodeURIComponent(serverId)}/boot`);
  }
  setBoot(serverId: string, override: BootRequest): Promise<BootResult> {
    return this.request('POST', `/v1/servers/${encodeURIComponent(serverId)}/boot`, override);
  }
  /** The fleet overview's counts, computed by the relay over the servers this user may see. */
  fleetSummary(): Promise<FleetSummary> {
    return this.request('GET', '/v1/fleet/summary');
  }
  fleetEvents(): Promise<FleetEvents> {
    return this.request('GET', '/v1/fleet/events');
  }
  sensors(serverId: string): Promise<SensorList> {
    return this.request('GET', `/v1/servers/${encodeURIComponent(serverId)}/sensors`);
  }
  /** The readings the server's agent kept, oldest first (the server page's chart). */
  sensorHistory(serverId: string): Promise<SensorHistory> {
    return this.request('GET', `/v1/servers/${encodeURIComponent(serverId)}/sensors/history`);
  }
  /** One server with the agent and gateway carrying it now (`connection`). */
  server(serverId: string): Promise<ServerDetail> {
    return this.request('GET', `/v1/servers/${encodeURIComponent(serverId)}`);
  }
  /** What the BMC says the machine is (vendor, model, serial, BMC firmware, BIOS version); absent fields it did not report. */
  identity(serverId: string): Promise<ServerIdentity> {
    return this.request('GET', `/v1/servers/${encodeURIComponent(serverId)}/identity`);
  }
  sel(serverId: string): Promise<SelList> {
    return this.request('GET', `/v1/servers/${encodeURIComponent(serverId)}/sel`);
  }
  /** `takeover` (SOL): end another session's hold on the BMC's SOL and take it. */
  createSession(serverId: string, kind: StreamKind, mode: StreamMode, options: { takeover?: boolean } = {}): Promise<SessionCreated> {
    return this.request('POST', `/v1/servers/${encodeURIComponent(serverId)}/sessions`, { kind, mode, ...(options.takeover === true ? { takeover: true } : {}) });
  }
  /** The SSH front door's host key (public: users compare it with what `ssh` shows on first connect). */
  sshHostKey(): Promise<SshHostKey> {
    return this.request('GET', '/v1/ssh/host-key');
  }
  async sshKeys(): Promise<SshKeyView[]> {
    return (await this.request<SshKeyList>('GET', '/v1/me/ssh-keys')).keys;
  }
  addSshKey(publicKey: string): Promise<SshKeyView> {
    return this.request('POST', '/v1/me/ssh-keys', { publicKey });
  }
  removeSshKey(id: string): Promise<void> {
    return this.request('DELETE', `/v1/me/ssh-keys/${encodeURIComponent(id)}`);
  }
  /** Images the tenant uploaded before, which a mount may reuse by SHA-256; with a server, only those its agent's cache holds. */
  async mediaImages(serverId?: string): Promise<MediaImageView[]> {
    return (await this.request<MediaImageList>('GET', `/v1/media/images${serverId === undefined ? '' : `?server=${encodeURIComponent(serverId)}`}`)).images;
  }
  async recordings(): Promise<RecordingListEntry[]> {
    return (await this.request<RecordingList>('GET', '/v1/recordings')).recordings;
  }
  /** A recording's file (asciicast v2 text or RFB capture), as bytes: playback and download both need the bearer token. */
  async recordingFile(id: string): Promise<Uint8Array> {
    const token = await this.#options.accessToken();
    const response = await fetch(`${this.#options.baseUrl}/v1/recordings/${encodeURIComponent(id)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!response.ok) throw LightsoutError.fromBody((await response.json().catch(() => null)) ?? { code: response.status === 404 ? 'NOT_FOUND' : 'INTERNAL', message: `HTTP ${response.status}` });
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** Runs `task` for every id with at most `concurrency` in flight; one result per id, in order. */
export async function forEachServer<T>(
  serverIds: readonly string[],
  concurrency: number,
  task: (serverId: string) => Promise<T>,
): Promise<{ serverId: string; ok: boolean; value?: T; error?: LightsoutError }[]> {
  const results: { serverId: string; ok: boolean; value?: T; error?: LightsoutError }[] = serverIds.map((serverId) => ({ serverId, ok: false }));
  let next = 0;
  const worker = async () => {
    while (next < serverIds.length) {
      const index = next++;
      const serverId = serverIds[index]!;
      try {
        results[index] = { serverId, ok: true, value: await task(serverId) };
      } catch (error) {
        results[index] = { serverId, ok: false, error: error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', String(error)) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, serverIds.length) }, worker));
  return results;
}
