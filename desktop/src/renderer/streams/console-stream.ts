import { type StatusMessage, StreamClient, type StreamClientState, type StreamKind, type StreamMode, routeLocator } from '@lightsout/shared';
import type { RelayClient } from '../api/relay-client.js';
import { browserStreamSocket, browserTimer } from './browser-socket.js';

export type ConsoleState = StreamClientState | 'requesting' | 'failed';

export interface ConsoleStreamOptions {
  client: RelayClient;
  serverId: string;
  kind: StreamKind;
  mode: StreamMode;
  onData(bytes: Uint8Array): void;
  onState(state: ConsoleState, detail?: string): void;
  onStatus?(status: StatusMessage): void;
  /** A typing console (SOL, serial): input is refused while the path to the BMC is down, never sent later. */
  refuseInputWhileDown?: boolean;
  /** Bytes of input that did not reach the BMC (refused here, or dropped by the relay or the agent). */
  onInputRefused?(bytes: number): void;
  /** The relay said the path to the BMC (the agent) went down or came back. */
  onPath?(up: boolean): void;
  /** Why the session could not be opened or ended, in the far end's words (`BMC_BUSY`: SOL is held by another session); before the `closed` state. */
  onError?(code: string, message: string): void;
}

/**
 * One console session as a component sees it: ask the relay for a session,
 * then let the shared StreamClient connect, resume after drops (no byte lost
 * or repeated) and report its state. `restart` asks for a brand-new session
 * once the old one is over for good.
 */
export class ConsoleStream {
  readonly #options: ConsoleStreamOptions;
  #stream: StreamClient | null = null;
  #disposed = false;
  #generation = 0;

  constructor(options: ConsoleStreamOptions) {
    this.#options = options;
    void this.restart();
  }

  get state(): StreamClientState | null {
    return this.#stream?.state ?? null;
  }

  /** A new session; `takeover` (SOL) ends another BMC session's hold on SOL first (the pane's "Take over" after BMC_BUSY). */
  async restart(options: { takeover?: boolean } = {}): Promise<void> {
    this.#stream?.close();
    this.#stream = null;
    const generation = ++this.#generation;
    this.#options.onState('requesting');
    let session;
    try {
      session = await this.#options.client.createSession(this.#options.serverId, this.#options.kind, this.#options.mode, options);
    } catch (error) {
      if (generation === this.#generation && !this.#disposed) this.#options.onState('failed', error instanceof Error ? error.message : String(error));
      return;
    }
    if (generation !== this.#generation || this.#disposed) return;
    /** The far end's words for the close that follows: the pane shows them instead of the bare code. */
    let refusal: string | undefined;
    const streamUrl = new URL(session.streamUrl, this.#options.client.baseUrl);
    if (streamUrl.protocol === 'http:') streamUrl.protocol = 'ws:';
    if (streamUrl.protocol === 'https:') streamUrl.protocol = 'wss:';
    this.#stream = new StreamClient({
      streamUrl: streamUrl.href,
      token: session.token,
      socket: browserStreamSocket,
      setTimer: browserTimer,
      // Follows the session to the gateway its agent fails over to.
      ...(session.routeUrl === undefined ? {} : { locate: routeLocator(new URL(session.routeUrl, this.#options.client.baseUrl).href, (url, init) => fetch(url, init)) }),
      onData: (bytes) => this.#options.onData(bytes),
      onState: (state, detail) => {
        // A refusal a resume got past (agent offline for a moment) is not why the session ends later.
        if (state === 'streaming') refusal = undefined;
        if (generation === this.#generation) this.#options.onState(state, state === 'closed' && refusal !== undefined ? refusal : detail);
      },
      onError: (code, message) => {
        if (generation !== this.#generation) return;
        refusal = `${code}: ${message}`;
        this.#options.onError?.(code, message);
      },
      ...(this.#options.onStatus ? { onStatus: this.#options.onStatus } : {}),
      refuseInputWhileDown: this.#options.refuseInputWhileDown ?? false,
      onInputRefused: (bytes) => {
        if (generation === this.#generation) this.#options.onInputRefused?.(bytes);
      },
      onPath: (up) => {
        if (generation === this.#generation) this.#options.onPath?.(up);
      },
    });
  }

  write(bytes: Uint8Array): boolean {
    if (!this.#stream || this.#stream.state === 'closed') return false;
    return this.#stream.write(bytes);
  }

  resize(cols: number, rows: number): void {
    this.#stream?.control({ type: 'resize', cols, rows });
  }

  sendBreak(): void {
    this.#stream?.control({ type: 'break' });
  }

  takeOver(): void {
    this.#stream?.control({ type: 'take-over' });
  }

  dispose(): void {
    this.#disposed = true;
    this.#generation++;
    this.#stream?.close();
    this.#stream = null;
  }
}
