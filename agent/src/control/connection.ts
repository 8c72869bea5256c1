import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import {
  CONTROL_MAX_FRAME_BYTES,
  CONTROL_PROTOCOL_VERSION,
  ControlCloseCode,
  ControlFeature,
  decodeRelayMessage,
  inventoryParts,
  encodeControl,
  LightsoutError,
  type AgentToRelay,
  type ErrorBody,
  type InventoryAckMessage,
  type InventoryMessage,
  type RelayToAgent,
  type RequestMessage,
  type WelcomeMessage,
} from '@lightsout/shared';
import type { Logger } from 'pino';
import { backoffDelay, DEFAULT_CONNECT_TIMEOUT_MS, type BackoffPolicy } from './backoff.js';
import { controlUrlOf, describeEndpoint, pinnedLookup, type RelayEndpoint } from './relay-endpoints.js';
import { AGENT_VERSION } from '../version.js';

/**
 * The agent's one persistent, outbound control connection.
 *
 *   idle ──start──▶ connecting ──welcome──▶ open
 *                      │  ▲                  │
 *          close/error │  │ timer            │ close / heartbeat timeout
 *                      ▼  │                  ▼
 *                     waiting ◀──────────────┘
 *   any ──stop──▶ stopped          any ──fatal (revoked, unknown key)──▶ stopped
 *
 * Every attempt signs a fresh JWT. After every welcome the agent re-sends its
 * hello and full inventory: the relay keeps no agent state it cannot rebuild.
 * An inventory larger than one frame goes in parts to a relay that announced
 * `inventory-parts`. A relay whose frame limit cannot take it (an older
 * gateway during a rolling upgrade, a small `agents.maxFrameBytes`) is that
 * relay's limit, not the agent's config: the agent closes it, logs why and
 * tries the next endpoint, as for any refused attempt. (A server too large
 * for any frame is refused at start, agent.ts.)
 * A relay that stops answering heartbeats is presumed dead after
 * MISSED_HEARTBEATS intervals and the socket is terminated, not waited on.
 *
 * Several gateways: each attempt goes to the next endpoint of a round (the
 * configured URLs, a name that resolves to several addresses giving one
 * endpoint per address). A refused or failed attempt moves on to the next
 * endpoint at once; only when every endpoint of the round failed does the
 * agent back off (with jitter) and resolve the list again. A healthy
 * connection that drops (the relay closed it, or TCP broke after the
 * welcome and at least one answered heartbeat) is followed by an immediate
 * attempt, starting with the endpoint after the one that dropped: backoff
 * is for repeated failures, and the worst-case reconnect stays well inside
 * the stream grace period (backoff.ts, docs/streams.md).
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped';

export const MISSED_HEARTBEATS = 3;

/**
 * Requests from the relay the agent runs at once (those of a dropped
 * connection included, until their deadline); the excess is answered at once
 * with RATE_LIMITED. The relay's own fairness holds at most
 * `perTenantPerAgent` (16 by default) BMC operations per tenant on an agent
 * and a bulk job `bulk.perAgentConcurrency` (8), but a gateway failover
 * re-opens every console of the agent at once (a `stream.open` each, the
 * soak's 1,000 among them, waiting for dial-back slots): the cap sits well
 * above that. It bounds what a relay ignoring its limits costs the agent, at
 * a few KiB per request (about 20 MiB in all), not 951 MiB for 200,000.
 */
export const MAX_REQUESTS_IN_FLIGHT = 4096;

/** Refusals after which reconnecting cannot help: an operator must act. */
const FATAL_CODES = new Set(['AGENT_REVOKED', 'AGENT_KEY_UNKNOWN']);

export type ResponseOutcome = { ok: true; result: unknown } | { ok: false; error: ErrorBody };

export interface ControlConnectionOptions {
  /** The relays to try, in order, resolved afresh for every round of attempts (relay-endpoints.ts). */
  endpoints: () => Promise<readonly RelayEndpoint[]>;
  /** TCP connect to `welcome`: a relay that accepts but never greets is as dead as one that refuses. */
  connectTimeoutMs?: number;
  /** Signs a fresh bearer JWT; called once per connection attempt. */
  token: () => Promise<string>;
  backoff: BackoffPolicy;
  /** An open connection that lasted this long resets the backoff to attempt 0. */
  stableAfterMs: number;
  logger: Logger;
  capabilities: string[];
  /** The full inventory, sent after every welcome (in parts when larger than a frame). */
  inventory: () => InventoryMessage;
  onRequest: (request: RequestMessage) => Promise<ResponseOutcome>;
  /** Requests run at once; default MAX_REQUESTS_IN_FLIGHT. */
  maxRequestsInFlight?: number;
  random?: () => number;
  now?: () => number;
}

export interface ControlConnectionEvents {
  state: [ConnectionState];
  welcome: [WelcomeMessage];
  'inventory-ack': [InventoryAckMessage];
  /** Emitted once the hello and inventory are written after a welcome. */
  registered: [WelcomeMessage];
  disconnected: [{ code: number; reason: string }];
  /**
   * `attempt` counts rounds (every endpoint tried) failed since the last
   * healthy connection; `delayMs` is 0 for a failover to an untried endpoint
   * and for the first retry after a healthy connection dropped.
   */
  'reconnect-scheduled': [{ attempt: number; delayMs: number }];
  fatal: [LightsoutError];
}

export class ControlConnection extends EventEmitter<ControlConnectionEvents> {
  #state: ConnectionState = 'idle';
  #socket: WebSocket | undefined;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #welcomeTimer: NodeJS.Timeout | undefined;
  #heartbeatSeq = 0;
  #lastAckedSeq = 0;
  #openedAt = 0;
  #welcome: WelcomeMessage | undefined;
  /** The endpoints of the current round and the index of the next one to try. */
  #round: readonly RelayEndpoint[] = [];
  #next = 0;
  /** The endpoint of the current attempt or connection. */
  #endpoint: RelayEndpoint | undefined;
  /** Set when a healthy connection dropped: the next round starts after this endpoint. */
  #leftEndpoint: RelayEndpoint | undefined;
  /** The agent ended this socket (missed heartbeats, an inventory the relay cannot take): a drop, but not a healthy one. */
  #unhealthy = false;
  /** Requests running now, and those refused since the cap was reached (0: not in a burst). */
  #requestsInFlight = 0;
  #requestsRefused = 0;
  readonly #options: ControlConnectionOptions;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(options: ControlConnectionOptions) {
    super();
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The relay endpoint of the open connection, else undefined: dial-backs for its requests go there. */
  get endpoint(): RelayEndpoint | undefined {
    return this.#state === 'open' ? this.#endpoint : undefined;
  }

  /** The relay's last welcome while open, else undefined. */
  get welcome(): WelcomeMessage | undefined {
    return this.#state === 'open' ? this.#welcome : undefined;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#connect();
  }

  /** Sends the inventory again on the open connection (a server was adopted or moved); false when not open. */
  resendInventory(): boolean {
    const welcome = this.welcome;
    const socket = this.#socket;
    if (welcome === undefined || socket === undefined) return false;
    const parts = this.#inventoryFor(welcome);
    if (parts === undefined) {
      // Not a healthy drop: the round goes on from the next endpoint, as after a failed attempt.
      this.#unhealthy = true;
      this.#dropRelay(socket);
      return false;
    }
    return parts.every((part) => this.send(part));
  }

  /** Sends when open; returns false (and drops the message) otherwise. */
  send(message: AgentToRelay): boolean {
    if (this.#state !== 'open' || this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(encodeControl(message));
    return true;
  }

  /** Closes the socket and every timer; no reconnect afterwards. Resolves when the socket is gone. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#setState('stopped');
    this.#clearTimers();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => socket.terminate(), 2000);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1001, 'agent shutting down');
    });
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #clearTimers(): void {
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#welcomeTimer);
    this.#reconnectTimer = undefined;
    this.#heartbeatTimer = undefined;
    this.#welcomeTimer = undefined;
  }

  #connect(): void {
    this.#setState('connecting');
    this.#nextEndpoint()
      .then(async (endpoint) => {
        if (this.#state !== 'connecting') return;
        if (endpoint === undefined) return this.#scheduleReconnect();
        this.#endpoint = endpoint;
        let token: string;
        try {
          token = await this.#options.token();
        } catch (error) {
          this.#options.logger.error({ err: error }, 'cannot sign the control-connection token');
          return this.#scheduleReconnect();
        }
        if (this.#state !== 'connecting') return;
        this.#open(endpoint, token);
      })
      .catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'cannot list the relay endpoints');
        this.#scheduleReconnect();
      });
  }

  /** The next endpoint of this round; a new round (resolved afresh) when it is over. Undefined when there is none at all. */
  async #nextEndpoint(): Promise<RelayEndpoint | undefined> {
    if (this.#next >= this.#round.length) {
      const endpoints = [...(await this.#options.endpoints())];
      const left = this.#leftEndpoint;
      this.#leftEndpoint = undefined;
      // After a healthy connection dropped, its relay is tried last: it may be going away, and the others are up.
      const at = left === undefined ? -1 : endpoints.findIndex((endpoint) => endpoint.url === left.url && endpoint.address === left.address);
      this.#round = at < 0 ? endpoints : [...endpoints.slice(at + 1), ...endpoints.slice(0, at + 1)];
      this.#next = 0;
    }
    return this.#round[this.#next++];
  }

  #open(endpoint: RelayEndpoint, token: string): void {
    const { logger } = this.#options;
    const connectTimeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const lookup = pinnedLookup(endpoint);
    const socket = new WebSocket(controlUrlOf(endpoint.url), {
      headers: { authorization: `Bearer ${token}` },
      maxPayload: CONTROL_MAX_FRAME_BYTES,
      handshakeTimeout: connectTimeoutMs,
      perMessageDeflate: false,
      ...(lookup === undefined ? {} : { lookup }),
    });
    this.#socket = socket;
    this.#unhealthy = false;
    this.#welcomeTimer = setTimeout(() => {
      logger.warn({ relay: describeEndpoint(endpoint) }, 'relay sent no welcome in time; trying the next one');
      socket.terminate();
    }, connectTimeoutMs);

    socket.on('unexpected-response', (_request, response) => {
      // The relay refused the upgrade (401/403 with an ErrorBody): read why.
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 64 * 1024) chunks.push(chunk);
      });
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        const refusal = LightsoutError.fromBody(body);
        if (FATAL_CODES.has(refusal.code)) {
          this.#fatal(refusal);
        } else {
          logger.warn({ relay: describeEndpoint(endpoint), status: response.statusCode, code: refusal.code }, `relay refused the control connection: ${refusal.message}`);
        }
        socket.terminate();
      });
      response.on('error', () => socket.terminate());
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.#protocolError(new LightsoutError('MALFORMED_MESSAGE', 'binary frame on the control channel'), ControlCloseCode.MALFORMED_MESSAGE);
        return;
      }
      let message: RelayToAgent;
      try {
        message = decodeRelayMessage(data.toString(), CONTROL_MAX_FRAME_BYTES);
      } catch (error) {
        const refusal = error instanceof LightsoutError ? error : new LightsoutError('MALFORMED_MESSAGE', String(error));
        this.#protocolError(refusal, refusal.code === 'PROTOCOL_VERSION' ? ControlCloseCode.PROTOCOL_VERSION : ControlCloseCode.MALFORMED_MESSAGE);
        return;
      }
      this.#handle(socket, message);
    });
    socket.on('error', (error) => {
      logger.debug({ err: error }, 'control socket error');
    });
    socket.on('close', (code, reasonBuffer) => {
      const reason = reasonBuffer.toString();
      if (this.#socket === socket) this.#socket = undefined;
      clearInterval(this.#heartbeatTimer);
      clearTimeout(this.#welcomeTimer);
      const wasOpen = this.#state === 'open';
      if (wasOpen) logger.info({ relay: describeEndpoint(endpoint), code, reason }, 'control connection closed');
      this.emit('disconnected', { code, reason });
      if (code === ControlCloseCode.AGENT_REVOKED) {
        this.#fatal(new LightsoutError('AGENT_REVOKED', `the relay revoked this agent${reason ? `: ${reason}` : ''}`));
        return;
      }
      if (this.#state === 'stopped') return;
      const stable = this.#now() - this.#openedAt >= this.#options.stableAfterMs;
      if (wasOpen && !this.#unhealthy && (stable || this.#lastAckedSeq > 0)) {
        // A healthy connection dropped (relay restart, failover, a broken TCP path): try again at once, the others first.
        this.#attempt = 0;
        this.#round = [];
        this.#leftEndpoint = endpoint;
        return this.#reconnectNow();
      }
      if (wasOpen && stable) this.#attempt = 0;
      // A failed attempt: the next endpoint of the round at once, backoff only once every one has failed.
      if (this.#next < this.#round.length) return this.#reconnectNow();
      this.#scheduleReconnect();
    });
  }

  #handle(socket: WebSocket, message: RelayToAgent): void {
    switch (message.type) {
      case 'welcome':
        this.#onWelcome(socket, message);
        return;
      case 'heartbeat-ack':
        // An ack of a heartbeat not sent yet would hide every later missed one: the relay cannot know it.
        if (message.seq > this.#heartbeatSeq) {
          this.#options.logger.debug({ seq: message.seq, sent: this.#heartbeatSeq }, 'relay acknowledged a heartbeat never sent; ignored');
          return;
        }
        this.#lastAckedSeq = Math.max(this.#lastAckedSeq, message.seq);
        return;
      case 'inventory-ack':
        if (message.rejected.length > 0) {
          this.#options.logger.warn({ rejected: message.rejected }, `relay rejected ${message.rejected.length} server(s)`);
        }
        this.emit('inventory-ack', message);
        return;
      case 'request':
        this.#onRequest(socket, message);
        return;
      case 'error':
        this.#options.logger.warn({ code: message.error.code }, `relay reported: ${message.error.message}`);
        if (FATAL_CODES.has(message.error.code)) this.#fatal(LightsoutError.fromBody(message.error));
        return;
    }
  }

  #onWelcome(socket: WebSocket, welcome: WelcomeMessage): void {
    clearTimeout(this.#welcomeTimer);
    // Before `open`: a relay that cannot take the inventory is a failed attempt, and the round goes on.
    const parts = this.#inventoryFor(welcome);
    if (parts === undefined) return this.#dropRelay(socket);
    this.#welcome = welcome;
    this.#openedAt = this.#now();
    this.#heartbeatSeq = 0;
    this.#lastAckedSeq = 0;
    this.#setState('open');
    this.#options.logger.info({ agentId: welcome.agentId, heartbeatIntervalMs: welcome.heartbeatIntervalMs }, 'control connection open');
    this.emit('welcome', welcome);
    this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'hello', agentVersion: AGENT_VERSION, capabilities: this.#options.capabilities });
    for (const part of parts) this.send(part);
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => this.#beat(socket), welcome.heartbeatIntervalMs);
    this.emit('registered', welcome);
  }

  /** The inventory in frames this relay accepts; undefined (logged, naming the relay and its limit) when it cannot take it. */
  #inventoryFor(welcome: WelcomeMessage): InventoryMessage[] | undefined {
    const inventory = this.#options.inventory();
    const maxFrameBytes = Math.min(welcome.maxFrameBytes, CONTROL_MAX_FRAME_BYTES);
    const inParts = (welcome.features ?? []).includes(ControlFeature.INVENTORY_PARTS);
    const refuse = (problem: string, hint: string): undefined => {
      const relay = this.#endpoint === undefined ? undefined : describeEndpoint(this.#endpoint);
      this.#options.logger.error({ relay, maxFrameBytes, servers: inventory.servers.length, inventoryParts: inParts, hint }, `this relay cannot take the inventory (${problem}); trying the next one`);
      return undefined;
    };
    let parts: InventoryMessage[];
    try {
      parts = inventoryParts(inventory.servers, maxFrameBytes);
    } catch (error) {
      if (!(error instanceof LightsoutError)) throw error;
      return refuse(error.message, "raise the relay's agents.maxFrameBytes, or shorten the server's labels");
    }
    if (parts.length > 1 && !inParts) {
      const bytes = Buffer.byteLength(encodeControl(inventory));
      return refuse(`${bytes} bytes, above its frame limit of ${maxFrameBytes}, and it takes no inventory in parts`, "upgrade the relay, or raise its agents.maxFrameBytes");
    }
    return parts;
  }

  /** Ends a connection to a relay that cannot take the inventory: the close handler goes on to the next endpoint. */
  #dropRelay(socket: WebSocket): void {
    clearInterval(this.#heartbeatTimer);
    // FRAME_TOO_LARGE tells the relay why; a relay that does not answer the close is cut off like one that sent no welcome.
    socket.close(ControlCloseCode.FRAME_TOO_LARGE, 'inventory above the relay maxFrameBytes');
    clearTimeout(this.#welcomeTimer);
    this.#welcomeTimer = setTimeout(() => socket.terminate(), this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  }

  #beat(socket: WebSocket): void {
    if (this.#heartbeatSeq - this.#lastAckedSeq >= MISSED_HEARTBEATS) {
      this.#options.logger.warn({ missed: this.#heartbeatSeq - this.#lastAckedSeq }, 'relay stopped answering heartbeats; reconnecting');
      this.#unhealthy = true;
      clearInterval(this.#heartbeatTimer);
      socket.terminate();
      return;
    }
    this.#heartbeatSeq += 1;
    this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'heartbeat', seq: this.#heartbeatSeq });
  }

  #onRequest(socket: WebSocket, request: RequestMessage): void {
    const limit = this.#options.maxRequestsInFlight ?? MAX_REQUESTS_IN_FLIGHT;
    if (this.#requestsInFlight >= limit) {
      if (this.#requestsRefused++ === 0) this.#options.logger.warn({ inFlight: this.#requestsInFlight, limit }, 'too many requests from the relay in flight; refusing the excess');
      this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'response', id: request.id, ok: false, error: { code: 'RATE_LIMITED', message: `the agent is already running ${limit} requests from the relay; try again shortly` } });
      return;
    }
    this.#requestsInFlight += 1;
    // Through a promise, so that a handler throwing before its first await still gives its slot back.
    new Promise<ResponseOutcome>((resolve) => resolve(this.#options.onRequest(request)))
      .catch((error: unknown): ResponseOutcome => ({ ok: false, error: { code: 'INTERNAL', message: (error as Error).message ?? String(error) } }))
      .then((outcome) => {
        this.#requestsInFlight -= 1;
        // The burst is over once half the slots are free again: a later one is logged again.
        if (this.#requestsRefused > 0 && this.#requestsInFlight <= limit / 2) {
          this.#options.logger.info({ refused: this.#requestsRefused, limit }, 'requests from the relay back under the in-flight limit');
          this.#requestsRefused = 0;
        }
        // The relay fails requests of a dropped connection itself; an answer on a new socket would be stray.
        if (this.#socket !== socket || this.#state !== 'open') return;
        this.send(
          outcome.ok
            ? { v: CONTROL_PROTOCOL_VERSION, type: 'response', id: request.id, ok: true, result: outcome.result }
            : { v: CONTROL_PROTOCOL_VERSION, type: 'response', id: request.id, ok: false, error: outcome.error },
        );
      });
  }

  #protocolError(error: LightsoutError, closeCode: number): void {
    this.#options.logger.warn({ code: error.code }, `relay sent an invalid control frame: ${error.message}`);
    this.#socket?.close(closeCode, error.code);
  }

  #fatal(error: LightsoutError): void {
    if (this.#state === 'stopped') return;
    this.#options.logger.error({ code: error.code }, error.message);
    this.#setState('stopped');
    this.#clearTimers();
    this.#socket?.terminate();
    this.emit('fatal', error);
  }

  /** Straight to the next attempt (failover, or the first retry after a healthy connection dropped). */
  #reconnectNow(): void {
    this.emit('reconnect-scheduled', { attempt: this.#attempt, delayMs: 0 });
    this.#setState('waiting');
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#connect();
  }

  /** Every endpoint of the round failed: back off, then start a new round. */
  #scheduleReconnect(): void {
    if (this.#state === 'stopped') return;
    this.#round = [];
    const delay = backoffDelay(this.#attempt, this.#random(), this.#options.backoff);
    this.emit('reconnect-scheduled', { attempt: this.#attempt, delayMs: delay });
    this.#attempt += 1;
    this.#setState('waiting');
    this.#options.logger.debug({ attempt: this.#attempt, delay }, 'reconnecting after backoff');
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delay);
  }
}
