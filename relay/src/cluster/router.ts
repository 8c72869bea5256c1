import { randomUUID } from 'node:crypto';
import { type ControlOperation, type ErrorBody, isErrorCode, LightsoutError, type OperationParams, type OperationResult } from '@lightsout/shared';
import { BatchedLookup } from '../store/batched-lookup.js';
import type { Store } from '../store/open.js';
import { SerialWrites } from '../store/serial-writes.js';
import type { ClusterBus } from './bus.js';
import type { ReplicaRegistry } from './replicas.js';

/** What the router needs of this replica's agent hub (agents/hub.ts). */
export interface LocalAgents {
  isOnline(agentId: string): boolean;
  request<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs?: number): Promise<OperationResult<Op>>;
  watchPresence(listener: (agentId: string, online: boolean) => void): () => void;
  revoke(agentId: string): void;
}

/** Where an agent's control connection is: a replica's id (none in the single process), public URL and region. */
export interface GatewayLocation {
  replicaId: string | undefined;
  url: string;
  region: string | null;
}

export interface ClusterParts {
  bus: ClusterBus;
  replicas: ReplicaRegistry;
  store: Store;
}

interface Logger {
  warn(object: object, message: string): void;
  debug(object: object, message: string): void;
}

/*
 * Wire of the router's bus messages (JSON, one NOTIFY each; large ones go
 * through the bus's payload table):
 *   replica.<id>     { t: 'request', id, from, agentId, op, params, timeoutMs }   caller → holder
 *                    { t: 'response', id, result } | { t: 'response', id, error: ErrorBody }   holder → caller
 *   agents.presence  { agentId, replicaId, online }   the holder, when an agent's connection comes or goes
 *   agents.revoke    { agentId }                      whoever revoked it; the holder closes the connection
 */
type RequestMessage = { t: 'request'; id: string; from: string; agentId: string; op: ControlOperation; params: Record<string, unknown>; timeoutMs: number };
type ResponseMessage = { t: 'response'; id: string; result?: unknown; error?: ErrorBody };
type PresenceMessage = { agentId: string; replicaId: string; online: boolean };

const PRESENCE_CHANNEL = 'agents.presence';
const REVOKE_CHANNEL = 'agents.revoke';
const replicaChannel = (replicaId: string) => `replica.${replicaId.replace(/-/g, '')}`;
/** While requests are out, how often their holders' liveness is re-judged (so a dead holder fails them before their timeout). */
const LIVENESS_CHECK_MS = 500;

interface Pending {
  holder: string;
  resolve: (result: unknown) => void;
  reject: (error: LightsoutError) => void;
  timer: NodeJS.Timeout;
}

function offline(message: string, details?: Record<string, unknown>): LightsoutError {
  return new LightsoutError('AGENT_OFFLINE', message, { hint: 'check the agent process and its connection to a gateway of its region', ...(details === undefined ? {} : { details }) });
}

function bodyOf(error: unknown): ErrorBody {
  if (error instanceof LightsoutError) return error.toBody();
  return { code: 'INTERNAL', message: 'the replica holding the agent failed to forward the request' };
}

function errorOf(body: ErrorBody): LightsoutError {
  return new LightsoutError(isErrorCode(body.code) ? body.code : 'INTERNAL', body.message, { ...(body.hint === undefined ? {} : { hint: body.hint }), ...(body.details === undefined ? {} : { details: body.details }) });
}

/**
 * Reaches an agent wherever its control connection is. An agent connected
 * here is asked directly (the hub); otherwise the request goes over the
 * cluster bus to the replica holding it (`agents.gateway_id`), which asks
 * its hub and sends the answer back. Every request ends within its timeout:
 * with the agent's answer, its error, AGENT_TIMEOUT, or AGENT_OFFLINE at
 * once when no live replica holds the agent, and as soon as the holder's
 * heartbeat goes stale when it dies with the request out.
 *
 * In the single process (no cluster parts) it is the hub, unchanged.
 */
export class AgentRouter {
  /** Agents held by other replicas, as their presence messages (and the store, at start) say. */
  private readonly holders = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  private readonly presenceListeners = new Set<(agentId: string, online: boolean) => void>();
  private readonly cleanups: Array<() => void> = [];
  /** Per agent, the store writes of its presence here, in the order it changed. */
  private readonly writes = new SerialWrites<string>();
  private livenessTimer: NodeJS.Timeout | undefined;
  /** Where the store says agents are: the route questions of a failover, hundreds at once, read it together. */
  private readonly storedHolders: BatchedLookup<string, string | null> | undefined;

  constructor(
    private readonly hub: LocalAgents,
    private readonly defaultTimeoutMs: number,
    private readonly log: Logger,
    private readonly cluster?: ClusterParts,
  ) {
    this.cleanups.push(hub.watchPresence((agentId, online) => this.localPresence(agentId, online)));
    if (cluster !== undefined) {
      this.storedHolders = new BatchedLookup(async (agentIds) => {
        const rows = await cluster.store.selectFrom('agents').select(['id', 'gateway_id']).where('id', 'in', agentIds).execute();
        return new Map(rows.map((row) => [row.id, row.gateway_id]));
      });
    }
  }

  /** This replica's id in the deployment (undefined in the single process). */
  get replicaId(): string | undefined {
    return this.cluster?.replicas.id;
  }

  /** Subscribe and learn where agents are; call before serving requests. */
  async start(): Promise<void> {
    const cluster = this.cluster;
    if (cluster === undefined) return;
    this.cleanups.push(
      cluster.bus.subscribe(replicaChannel(cluster.replicas.id), (message) => this.onReplicaMessage(message as RequestMessage | ResponseMessage)),
      cluster.bus.subscribe(PRESENCE_CHANNEL, (message) => void this.remotePresence(message as PresenceMessage)),
      cluster.bus.subscribe(REVOKE_CHANNEL, (message) => this.hub.revoke((message as { agentId: string }).agentId)),
      cluster.bus.onReconnect(() => void this.resync()),
      cluster.replicas.onGone((replicaId) => this.replicaGone(replicaId)),
    );
    await cluster.bus.ready();
    await this.resync();
  }

  close(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    clearInterval(this.livenessTimer);
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(offline('this replica is shutting down'));
      this.pending.delete(id);
    }
  }

  /** Online anywhere in the deployment: connected here, or held by a replica whose heartbeat is fresh. */
  isOnline(agentId: string): boolean {
    if (this.hub.isOnline(agentId)) return true;
    const holder = this.holders.get(agentId);
    return holder !== undefined && this.cluster !== undefined && this.cluster.replicas.isAlive(holder);
  }

  /**
   * The public URL of the replica holding the agent's control connection
   * (`ownUrl` when it is this one), undefined when no live replica holds it.
   */
  async gatewayUrlOf(agentId: string, ownUrl: string): Promise<string | undefined> {
    return (await this.gatewayOf(agentId, { url: ownUrl, region: null }))?.url;
  }

  /**
   * The replica holding the agent's control connection (`self` when it is
   * this one), undefined when no live replica holds it. `replicaId` is
   * undefined in the single process, which has no registry.
   */
  async gatewayOf(agentId: string, self: { url: string; region: string | null }): Promise<GatewayLocation | undefined> {
    if (this.hub.isOnline(agentId)) return { replicaId: this.replicaId, ...self };
    if (this.cluster === undefined) return undefined;
    const holder = this.liveHolder(agentId) ?? (await this.lookupHolder(agentId));
    const replica = holder === undefined ? undefined : this.cluster.replicas.get(holder);
    return replica === undefined ? undefined : { replicaId: replica.id, url: replica.publicUrl, region: replica.region };
  }

  /** `listener(agentId, online)` when an agent comes or goes anywhere in the deployment; returns the unsubscribe. */
  watchPresence(listener: (agentId: string, online: boolean) => void): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  /** Close the agent's control connection (AGENT_REVOKED) wherever it is. */
  revoke(agentId: string): void {
    this.hub.revoke(agentId);
    this.cluster?.bus.publish(REVOKE_CHANNEL, { agentId }).catch((error: unknown) => this.log.warn({ err: error, agentId }, 'could not tell the other replicas of an agent revocation'));
  }

  async request<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs = this.defaultTimeoutMs): Promise<OperationResult<Op>> {
    if (this.cluster === undefined || this.hub.isOnline(agentId)) return this.hub.request(agentId, op, params, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    let holder = this.liveHolder(agentId) ?? (await this.lookupHolder(agentId));
    for (let attempt = 0; ; attempt += 1) {
      if (holder === undefined) throw offline('the agent for this server is offline');
      try {
        return (await this.forward(holder, agentId, op, params as Record<string, unknown>, Math.max(1, deadline - Date.now()))) as OperationResult<Op>;
      } catch (error) {
        // The agent moved between our lookup and the holder's: once more, where the store now says it is.
        const moved = error instanceof LightsoutError && error.code === 'AGENT_OFFLINE' && error.details?.['notHere'] === true;
        if (!moved || attempt > 0 || Date.now() >= deadline) throw error;
        if (this.hub.isOnline(agentId)) return this.hub.request(agentId, op, params, Math.max(1, deadline - Date.now()));
        const next = await this.lookupHolder(agentId);
        if (next === holder) throw error;
        holder = next;
      }
    }
  }

  private liveHolder(agentId: string): string | undefined {
    const holder = this.holders.get(agentId);
    return holder !== undefined && this.cluster!.replicas.isAlive(holder) ? holder : undefined;
  }

  /** Where the store says the agent is, if that replica is alive (a replica we have not read yet is read first). */
  private async lookupHolder(agentId: string): Promise<string | undefined> {
    const { replicas } = this.cluster!;
    const holder = (await this.storedHolders!.get(agentId)) ?? undefined;
    if (holder === undefined || holder === replicas.id) return undefined;
    if (replicas.get(holder) === undefined) await replicas.refresh();
    return replicas.isAlive(holder) ? holder : undefined;
  }

  private forward(holder: string, agentId: string, op: ControlOperation, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const { bus, replicas } = this.cluster!;
    const id = randomUUID();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LightsoutError('AGENT_TIMEOUT', `the agent did not answer ${op} within ${timeoutMs} ms (through the replica holding it)`));
      }, timeoutMs);
      this.pending.set(id, { holder, resolve, reject, timer });
      this.watchLiveness();
      const message: RequestMessage = { t: 'request', id, from: replicas.id, agentId, op, params, timeoutMs };
      bus.publish(replicaChannel(holder), message).catch((error: unknown) => {
        this.settle(id, undefined, offline('the request could not be handed to the replica holding the agent (the store is unreachable)', { reason: 'bus' }));
        this.log.warn({ err: error, agentId, op }, 'cluster bus publish failed');
      });
    });
  }

  private settle(id: string, result: unknown, error?: LightsoutError): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (error === undefined) pending.resolve(result);
    else pending.reject(error);
  }

  private watchLiveness(): void {
    if (this.livenessTimer !== undefined) return;
    this.livenessTimer = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.livenessTimer);
        this.livenessTimer = undefined;
        return;
      }
      this.cluster!.replicas.reportGone();
    }, LIVENESS_CHECK_MS);
    this.livenessTimer.unref();
  }

  private onReplicaMessage(message: RequestMessage | ResponseMessage): void {
    if (message.t === 'response') {
      this.settle(message.id, message.result, message.error === undefined ? undefined : errorOf(message.error));
      return;
    }
    void this.serve(message);
  }

  /** A request another replica forwarded: answer before its timer fires, so the caller gets our answer, not its own timeout. */
  private async serve(message: RequestMessage): Promise<void> {
    const { bus, replicas } = this.cluster!;
    let response: ResponseMessage;
    if (!this.hub.isOnline(message.agentId)) {
      response = { t: 'response', id: message.id, error: offline('the agent is not connected to the replica the store named', { notHere: true, replica: replicas.id }).toBody() };
    } else {
      const margin = Math.min(500, Math.floor(message.timeoutMs / 5));
      try {
        const result = await this.hub.request(message.agentId, message.op, message.params as never, Math.max(1, message.timeoutMs - margin));
        response = { t: 'response', id: message.id, result };
      } catch (error) {
        response = { t: 'response', id: message.id, error: bodyOf(error) };
      }
    }
    await bus.publish(replicaChannel(message.from), response).catch((error: unknown) => this.log.warn({ err: error, op: message.op }, 'could not send an agent answer back over the cluster bus'));
  }

  private emit(agentId: string, online: boolean): void {
    for (const listener of [...this.presenceListeners]) {
      try {
        listener(agentId, online);
      } catch (error) {
        this.log.warn({ err: error, agentId }, 'agent presence listener failed');
      }
    }
  }

  /** The hub's connection for an agent came or went: record where it is, tell the other replicas. */
  private localPresence(agentId: string, online: boolean): void {
    this.emit(agentId, online);
    const cluster = this.cluster;
    if (cluster === undefined) return;
    if (online) this.holders.delete(agentId);
    const replicaId = cluster.replicas.id;
    void this.writes.run(agentId, async () => {
      try {
        const update = cluster.store.updateTable('agents').where('id', '=', agentId);
        // Cleared only if still ours: the agent may already be on another replica.
        await (online ? update.set({ gateway_id: replicaId }) : update.set({ gateway_id: null }).where('gateway_id', '=', replicaId)).execute();
        await cluster.bus.publish(PRESENCE_CHANNEL, { agentId, replicaId, online } satisfies PresenceMessage);
      } catch (error) {
        this.log.warn({ err: error, agentId, online }, 'could not record where the agent is connected');
      }
    });
  }

  private async remotePresence(message: PresenceMessage): Promise<void> {
    const { replicas } = this.cluster!;
    if (message.replicaId === replicas.id) return;
    const wasOnline = this.isOnline(message.agentId);
    if (message.online) replicas.heardFrom(message.replicaId);
    if (message.online) {
      // A replica started since our last read: read it, so isAlive knows it.
      if (replicas.get(message.replicaId) === undefined) await replicas.refresh().catch(() => undefined);
      this.holders.set(message.agentId, message.replicaId);
    } else if (this.holders.get(message.agentId) === message.replicaId) {
      this.holders.delete(message.agentId);
    }
    const online = this.isOnline(message.agentId);
    if (online !== wasOnline) this.emit(message.agentId, online);
    this.onRemoteChange?.(message.agentId);
  }

  /** Called with an agent whose presence changed elsewhere (the events feed re-announces its servers). */
  onRemoteChange: ((agentId: string) => void) | undefined;

  private replicaGone(replicaId: string): void {
    for (const [id, pending] of this.pending) {
      if (pending.holder === replicaId) this.settle(id, undefined, offline('the replica holding the agent stopped answering (its heartbeat is stale)', { replica: replicaId }));
    }
    for (const [agentId, holder] of [...this.holders]) {
      if (holder !== replicaId) continue;
      this.holders.delete(agentId);
      if (!this.hub.isOnline(agentId)) this.emit(agentId, false);
      this.onRemoteChange?.(agentId);
    }
  }

  /** Re-read where every agent is (at start, and after the bus was deaf). */
  private async resync(): Promise<void> {
    const { store, replicas } = this.cluster!;
    try {
      await replicas.refresh();
      const rows = await store.selectFrom('agents').select(['id', 'gateway_id']).where('gateway_id', 'is not', null).execute();
      const now = new Map(rows.filter((row) => row.gateway_id !== replicas.id).map((row) => [row.id, row.gateway_id!]));
      for (const agentId of new Set([...this.holders.keys(), ...now.keys()])) {
        const wasOnline = this.isOnline(agentId);
        const holder = now.get(agentId);
        if (holder === undefined) this.holders.delete(agentId);
        else this.holders.set(agentId, holder);
        const isOnline = this.isOnline(agentId);
        if (isOnline !== wasOnline) {
          this.emit(agentId, isOnline);
          this.onRemoteChange?.(agentId);
        }
      }
    } catch (error) {
      this.log.warn({ err: error }, 'could not read where agents are connected');
    }
  }
}
