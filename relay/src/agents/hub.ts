import { CONTROL_MAX_FRAME_BYTES, CONTROL_PROTOCOL_VERSION, ControlCloseCode, inventoryAckParts, type ControlOperation, type InventoryAckMessage, LightsoutError, type OperationParams, type OperationResult } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { RelayConfig } from '../config/schema.js';
import { applyScan } from '../discovery/apply.js';
import { applyInventory, applyStates } from '../inventory/apply.js';
import type { ServerEvents } from '../inventory/events.js';
import type { RelayMetrics } from '../plugins/metrics.js';
import type { AuditLog } from '../audit/audit.js';
import type { Store } from '../store/open.js';
import type { SingleUseLedger } from '../access/single-use.js';
import { AgentRecords, type AuthenticatedAgent, authenticateAgent } from './agent-auth.js';
import { type ConnectionHooks, ControlConnection } from './connection.js';

/** last_seen_at is written at most this often per agent: heartbeats are frequent, the column is informational. */
const LAST_SEEN_WRITE_INTERVAL_MS = 30_000;

/**
 * The live control connections, one per agent, and the service other
 * plugins use to reach agents (`app.agents`). Holds no state the relay
 * cannot rebuild: after a restart agents reconnect and re-register.
 */
export class AgentHub {
  private readonly connections = new Map<string, ControlConnection>();
  private readonly lastSeenWritten = new Map<string, number>();
  private readonly hooks: ConnectionHooks;
  private readonly presenceListeners = new Set<(agentId: string, online: boolean) => void>();
  /** What each agent token check reads: the agent's row (batched), its imported key (kept). */
  private readonly records: AgentRecords;

  constructor(
    private readonly store: Store,
    private readonly ledger: SingleUseLedger,
    private readonly config: RelayConfig,
    private readonly metrics: RelayMetrics,
    private readonly log: FastifyBaseLogger,
    private readonly events: ServerEvents,
    private readonly audit?: AuditLog,
  ) {
    this.records = new AgentRecords(store);
    this.hooks = {
      onHello: async (connection, message) => {
        await this.store.updateTable('agents').set({ version: message.agentVersion }).where('id', '=', connection.agent.id).execute();
      },
      onInventory: async (connection, message) => {
        const binding = await this.store.selectFrom('agents').select('tenants').where('id', '=', connection.agent.id).executeTakeFirst();
        const tenants = binding?.tenants === undefined || binding.tenants === null ? null : (JSON.parse(binding.tenants) as string[]);
        const { accepted, rejected, removed, assigned } = await applyInventory(this.store, { ...connection.agent, tenants }, message.servers);
        for (const refusal of rejected.filter((entry) => entry.error.code === 'FORBIDDEN')) {
          const tenant = message.servers.find((server) => server.id === refusal.serverId)?.tenant ?? null;
          await this.audit?.append({ action: 'inventory.refused', outcome: 'denied', subject: connection.agent.id, tenant, target: `server:${refusal.serverId}`, details: { code: 'FORBIDDEN', agentTenants: tenants } });
        }
        this.events.serversChanged(accepted);
        this.events.serversRemoved(removed);
        if (rejected.length > 0) this.log.warn({ agentId: connection.agent.id, rejected: rejected.map((entry) => `${entry.serverId}:${entry.error.code}`) }, 'inventory entries rejected');
        // An agent takes frames of CONTROL_MAX_FRAME_BYTES at most: 10,000 refusals with their reasons are more.
        const ack: InventoryAckMessage = { v: CONTROL_PROTOCOL_VERSION, type: 'inventory-ack', accepted, rejected, ...(assigned.length > 0 ? { assigned } : {}) };
        for (const part of inventoryAckParts(ack, CONTROL_MAX_FRAME_BYTES)) connection.send(part);
      },
      onDiscovered: async (connection, message) => {
        const applied = await applyScan(this.store, connection.agent.id, message);
        this.log.info({ agentId: connection.agent.id, scanId: message.scanId, found: message.bmcs.length, added: applied.added, moved: applied.moved.length, addresses: message.addresses, probes: message.probes }, 'discovery scan reported');
      },
      onStates: async (connection, messages) => {
        const { updated, ignored } = await applyStates(this.store, connection.agent.id, messages);
        if (updated.length > 0) this.events.serversChanged(updated);
        for (const serverId of ignored) this.log.warn({ agentId: connection.agent.id, serverId }, 'state for a server this agent does not own ignored');
      },
      onHeartbeat: (connection) => {
        const last = this.lastSeenWritten.get(connection.agent.id) ?? 0;
        if (connection.lastSeenAt - last >= LAST_SEEN_WRITE_INTERVAL_MS) {
          this.lastSeenWritten.set(connection.agent.id, connection.lastSeenAt);
          void this.touch(connection.agent.id, { last_seen_at: connection.lastSeenAt });
        }
      },
      onClosed: (connection, code, reason) => {
        if (this.connections.get(connection.agent.id) === connection) {
          this.connections.delete(connection.agent.id);
          this.lastSeenWritten.delete(connection.agent.id);
          this.metrics.connectedAgents.set({ gateway: this.metrics.gateway }, this.connections.size);
          void this.touch(connection.agent.id, { last_seen_at: connection.lastSeenAt });
          void this.announceAgentServers(connection.agent.id);
          this.announcePresence(connection.agent.id, false);
        }
        this.log.info({ agentId: connection.agent.id, code, reason }, 'agent disconnected');
      },
      countMessage: (direction, type) => this.metrics.controlMessages.inc({ direction, type }),
    };
  }

  private async touch(agentId: string, values: { last_seen_at?: number; connected_at?: number }): Promise<void> {
    try {
      await this.store.updateTable('agents').set(values).where('id', '=', agentId).execute();
    } catch (error) {
      this.log.warn({ err: error, agentId }, 'could not record agent presence');
    }
  }

  /**
   * Verify an agent's bearer JWT (control connection, and any other agent
   * endpoint such as the stream plane's dial-back): each token is accepted once,
   * across restarts and relays sharing the store (access/single-use.ts).
   */
  authenticate(token: string): Promise<AuthenticatedAgent> {
    return authenticateAgent(this.records, this.ledger, token, this.config.agentAudiences);
  }

  /** The agent went online or offline: every server it owns changed its `agent` field. */
  private async announceAgentServers(agentId: string): Promise<void> {
    if (this.events.subscriberCount === 0) return;
    try {
      const rows = await this.store.selectFrom('servers').select('id').where('agent_id', '=', agentId).execute();
      this.events.serversChanged(rows.map((row) => row.id));
    } catch (error) {
      this.log.warn({ err: error, agentId }, 'could not announce agent state change');
    }
  }

  /** A newly authenticated socket; replaces (closes with REPLACED) the agent's previous connection. */
  attach(agent: AuthenticatedAgent, socket: WebSocket): ControlConnection {
    const previous = this.connections.get(agent.id);
    const connection = new ControlConnection(
      agent,
      socket,
      { heartbeatIntervalMs: this.config.agents.heartbeatIntervalMs, missedHeartbeats: this.config.agents.missedHeartbeats, maxFrameBytes: this.config.agents.maxFrameBytes, log: this.log },
      this.hooks,
    );
    this.connections.set(agent.id, connection);
    previous?.close(ControlCloseCode.REPLACED, 'replaced by a newer connection');
    this.metrics.connectedAgents.set({ gateway: this.metrics.gateway }, this.connections.size);
    void this.touch(agent.id, { connected_at: connection.connectedAt, last_seen_at: connection.connectedAt });
    void this.announceAgentServers(agent.id);
    this.announcePresence(agent.id, true);
    this.log.info({ agentId: agent.id, region: agent.region, datacenter: agent.datacenter }, 'agent connected');
    return connection;
  }

  /** `listener(agentId, online)` whenever an agent's connection here comes or goes (the stream plane tells consoles); returns the unsubscribe. */
  watchPresence(listener: (agentId: string, online: boolean) => void): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  private announcePresence(agentId: string, online: boolean): void {
    for (const listener of this.presenceListeners) {
      try {
        listener(agentId, online);
      } catch (error) {
        this.log.warn({ err: error, agentId }, 'agent presence listener failed');
      }
    }
  }

  isOnline(agentId: string): boolean {
    return this.connections.get(agentId)?.isOpen === true;
  }

  /** Send `error` AGENT_REVOKED and close 4003, if connected. */
  revoke(agentId: string): void {
    this.connections.get(agentId)?.fail(new LightsoutError('AGENT_REVOKED', 'this agent was revoked by an administrator'));
  }

  request<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs = this.config.agents.requestTimeoutMs): Promise<OperationResult<Op>> {
    const connection = this.connections.get(agentId);
    if (connection === undefined || !connection.isOpen) return Promise.reject(new LightsoutError('AGENT_OFFLINE', 'the agent for this server is offline', { hint: 'check the agent process and its connection to the relay' }));
    return connection.request(op, params as Record<string, unknown>, timeoutMs) as Promise<OperationResult<Op>>;
  }

  closeAll(): void {
    for (const connection of [...this.connections.values()]) connection.close(1001, 'relay shutting down');
  }
}
