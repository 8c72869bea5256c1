import { randomUUID } from 'node:crypto';
import {
  type AgentToRelay,
  CONTROL_MAX_DISCOVERED,
  CONTROL_MAX_SERVERS,
  type DiscoveredBmc,
  CONTROL_PROTOCOL_VERSION,
  ControlCloseCode,
  ControlFeature,
  type ErrorCode,
  LightsoutError,
  type RelayToAgent,
  decodeAgentMessage,
  encodeControl,
  isErrorCode,
  type ServerRegistration,
} from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { AuthenticatedAgent } from './agent-auth.js';

/** What a connection needs from the rest of the relay; the hub provides it. */
export interface ConnectionHooks {
  onInventory(connection: ControlConnection, message: Extract<AgentToRelay, { type: 'inventory' }>): Promise<void>;
  /** Consecutive `state` messages, applied together (in arrival order; the last per server wins). */
  onStates(connection: ControlConnection, messages: Array<Extract<AgentToRelay, { type: 'state' }>>): Promise<void>;
  onHello(connection: ControlConnection, message: Extract<AgentToRelay, { type: 'hello' }>): Promise<void>;
  /** One scan's report, all its parts together. */
  onDiscovered(connection: ControlConnection, message: Extract<AgentToRelay, { type: 'discovered' }>): Promise<void>;
  onHeartbeat(connection: ControlConnection): void;
  onClosed(connection: ControlConnection, code: number, reason: string): void;
  countMessage(direction: 'in' | 'out', type: string): void;
}

interface PendingRequest {
  resolve(result: unknown): void;
  reject(error: LightsoutError): void;
  timer: NodeJS.Timeout;
}

const CLOSE_CODE_BY_ERROR: Partial<Record<ErrorCode, number>> = {
  PROTOCOL_VERSION: ControlCloseCode.PROTOCOL_VERSION,
  MALFORMED_MESSAGE: ControlCloseCode.MALFORMED_MESSAGE,
  FRAME_TOO_LARGE: ControlCloseCode.FRAME_TOO_LARGE,
  AGENT_REVOKED: ControlCloseCode.AGENT_REVOKED,
};

/** Bound on requests awaiting an answer from one agent. */
const MAX_PENDING_REQUESTS = 1024;

/**
 * One agent's control WebSocket. States: open → closed, with one fail(error)
 * path that sends an `error` message, closes with the matching close code
 * and releases everything (timers, pending requests, listeners).
 * Heartbeat supervision: no heartbeat within missedHeartbeats × interval
 * closes the connection with HEARTBEAT_TIMEOUT and the agent is offline.
 */
export class ControlConnection {
  readonly id = randomUUID();
  readonly connectedAt = Date.now();
  lastSeenAt = Date.now();
  private state: 'open' | 'closed' = 'open';
  private readonly pending = new Map<string, PendingRequest>();
  private supervision: NodeJS.Timeout;
  /** Serialises message handling: an inventory is applied before the state that follows it. */
  private queue: Promise<void> = Promise.resolve();
  /** The parts of an inventory received so far (`more: true`); applied with the last one, never alone. */
  private inventoryParts: ServerRegistration[] = [];
  /** The parts of a scan report received so far, and whose scan they are. */
  private discoveredParts: { scanId: string; bmcs: DiscoveredBmc[] } | undefined;
  /**
   * `state` messages that arrived one after another and wait in the queue as one batch. An agent sends
   * one per server after every (re)connection: applied one statement each, 200 of them held every
   * later message — the answers to `stream.open` of consoles failing over among them — for seconds
   * on a loaded store. Any other message closes the batch, so the order between kinds is kept.
   */
  private stateBatch: Array<Extract<AgentToRelay, { type: 'state' }>> | undefined;

  constructor(
    readonly agent: AuthenticatedAgent,
    private readonly socket: WebSocket,
    private readonly options: { heartbeatIntervalMs: number; missedHeartbeats: number; maxFrameBytes: number; log: FastifyBaseLogger },
    private readonly hooks: ConnectionHooks,
  ) {
    this.supervision = this.armSupervision();
    socket.on('message', (data, isBinary) => this.receive(data as Buffer | Buffer[] | ArrayBuffer, isBinary));
    socket.on('close', (code, reason) => this.closed(code, reason.toString('utf8')));
    socket.on('error', (error) => options.log.warn({ err: error, agentId: agent.id }, 'control socket error'));
    this.send({
      v: CONTROL_PROTOCOL_VERSION,
      type: 'welcome',
      agentId: agent.id,
      region: agent.region,
      datacenter: agent.datacenter,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      maxFrameBytes: options.maxFrameBytes,
      features: [ControlFeature.INVENTORY_PARTS, ControlFeature.DISCOVERY],
    });
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  private armSupervision(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.options.log.warn({ agentId: this.agent.id }, 'agent missed its heartbeats');
      this.close(ControlCloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
    }, this.options.heartbeatIntervalMs * this.options.missedHeartbeats);
    timer.unref();
    return timer;
  }

  send(message: RelayToAgent): void {
    if (this.state !== 'open') return;
    this.hooks.countMessage('out', message.type);
    this.socket.send(encodeControl(message));
  }

  /** Send `error` with the code, then close with the matching close code. */
  fail(error: LightsoutError): void {
    if (this.state !== 'open') return;
    this.options.log.warn({ agentId: this.agent.id, code: error.code }, `control connection failed: ${error.message}`);
    this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'error', error: error.toBody() });
    this.close(CLOSE_CODE_BY_ERROR[error.code] ?? ControlCloseCode.MALFORMED_MESSAGE, error.code);
  }

  close(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.release();
    this.socket.close(code, reason);
    this.hooks.onClosed(this, code, reason);
  }

  private closed(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.release();
    this.hooks.onClosed(this, code, reason);
  }

  private release(): void {
    this.state = 'closed';
    clearTimeout(this.supervision);
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      request.reject(new LightsoutError('AGENT_OFFLINE', `agent ${this.agent.name} disconnected before answering`));
      this.pending.delete(id);
    }
  }

  private receive(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    if (this.state !== 'open') return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (bytes.length > this.options.maxFrameBytes) {
      this.fail(new LightsoutError('FRAME_TOO_LARGE', `control frame of ${bytes.length} bytes exceeds ${this.options.maxFrameBytes}`));
      return;
    }
    if (isBinary) {
      this.fail(new LightsoutError('MALFORMED_MESSAGE', 'binary frames are not used on the control channel'));
      return;
    }
    let message: AgentToRelay;
    try {
      message = decodeAgentMessage(bytes.toString('utf8'), this.options.maxFrameBytes);
    } catch (error) {
      this.fail(error instanceof LightsoutError ? error : new LightsoutError('MALFORMED_MESSAGE', 'undecodable control frame'));
      return;
    }
    this.hooks.countMessage('in', message.type);
    this.lastSeenAt = Date.now();
    // A heartbeat is answered at once, not behind the queue: applying 10,000 servers takes seconds,
    // and an agent whose heartbeats wait that long looks dead to both sides.
    if (message.type === 'heartbeat') {
      this.heartbeat(message.seq);
      return;
    }
    if (message.type === 'state') {
      if (this.stateBatch !== undefined) {
        this.stateBatch.push(message);
        return;
      }
      const batch = [message];
      this.stateBatch = batch;
      this.enqueue('state', () => {
        if (this.stateBatch === batch) this.stateBatch = undefined;
        return this.state === 'open' ? this.hooks.onStates(this, batch) : undefined;
      });
      return;
    }
    this.stateBatch = undefined;
    this.enqueue(message.type, () => this.handle(message));
  }

  private enqueue(type: string, work: () => Promise<void> | undefined): void {
    this.queue = this.queue
      .then(work)
      .catch((error: unknown) => {
        this.options.log.error({ err: error, agentId: this.agent.id, type }, 'control message handling failed');
        this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'error', error: { code: 'INTERNAL', message: `the relay could not process ${type}` } });
      });
  }

  private heartbeat(seq: number): void {
    clearTimeout(this.supervision);
    this.supervision = this.armSupervision();
    this.hooks.onHeartbeat(this);
    this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'heartbeat-ack', seq });
  }

  private async handle(message: AgentToRelay): Promise<void> {
    if (this.state !== 'open') return;
    switch (message.type) {
      case 'heartbeat':
        this.heartbeat(message.seq);
        return;
      case 'hello':
        return this.hooks.onHello(this, message);
      case 'inventory': {
        // A part alone is never applied: a replace with half the servers would delete the other half.
        if (this.inventoryParts.length + message.servers.length > CONTROL_MAX_SERVERS) {
          this.fail(new LightsoutError('MALFORMED_MESSAGE', `an inventory in parts of more than ${CONTROL_MAX_SERVERS} servers`));
          return;
        }
        for (const server of message.servers) this.inventoryParts.push(server);
        if (message.more === true) return;
        const servers = this.inventoryParts;
        this.inventoryParts = [];
        return this.hooks.onInventory(this, { v: message.v, type: 'inventory', servers });
      }
      case 'state':
        return this.hooks.onStates(this, [message]);
      case 'discovered': {
        // A report's parts belong to one scan; a part of another scan starts over (the earlier one was cut off).
        const parts = this.discoveredParts?.scanId === message.scanId ? this.discoveredParts : { scanId: message.scanId, bmcs: [] };
        if (parts.bmcs.length + message.bmcs.length > CONTROL_MAX_DISCOVERED) {
          this.fail(new LightsoutError('MALFORMED_MESSAGE', `a scan report of more than ${CONTROL_MAX_DISCOVERED} BMCs`));
          return;
        }
        for (const bmc of message.bmcs) parts.bmcs.push(bmc);
        this.discoveredParts = message.more === true ? parts : undefined;
        if (message.more === true) return;
        const { more: _more, ...report } = message;
        return this.hooks.onDiscovered(this, { ...report, bmcs: parts.bmcs });
      }
      case 'response': {
        const request = this.pending.get(message.id);
        if (request === undefined) return; // answered after its timeout: nobody waits any more
        this.pending.delete(message.id);
        clearTimeout(request.timer);
        if (message.ok) request.resolve(message.result);
        else {
          // The agent's details (a refusal's reason, the ports it compared…) reach the caller as the agent said them.
          const { code, message: text, hint, details } = message.error;
          request.reject(new LightsoutError(isErrorCode(code) ? code : 'BMC_PROTOCOL_ERROR', text, { ...(hint === undefined ? {} : { hint }), ...(details === undefined ? {} : { details }) }));
        }
        return;
      }
      case 'error':
        this.options.log.warn({ agentId: this.agent.id, code: message.error.code }, `agent reported: ${message.error.message}`);
        return;
    }
  }

  /** Ask the agent to perform an operation; rejects AGENT_OFFLINE, AGENT_TIMEOUT or the agent's error code. */
  request(op: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.state !== 'open') return Promise.reject(new LightsoutError('AGENT_OFFLINE', `agent ${this.agent.name} is offline`));
    if (this.pending.size >= MAX_PENDING_REQUESTS) return Promise.reject(new LightsoutError('RATE_LIMITED', `agent ${this.agent.name} has too many requests in flight`));
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LightsoutError('AGENT_TIMEOUT', `agent ${this.agent.name} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ v: CONTROL_PROTOCOL_VERSION, type: 'request', id, op, params, timeoutMs });
    });
  }
}
