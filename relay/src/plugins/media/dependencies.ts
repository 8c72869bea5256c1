import type { BmcEndpoints, ControlOperation, MediaUrlPolicy, MediaUrlPolicyView, OperationParams, OperationResult, Role } from '@lightsout/shared';
import type { FastifyRequest } from 'fastify';
import type { AgentUploads } from './agent-uploads.js';

/** The caller of a REST route, as the access hook resolved it (request.principal). */
export interface MediaCaller {
  subject: string;
  username: string;
  tenant: string;
  role: Role;
}

/** A server as the inventory knows it: enough to decide who may mount media on it and through which agent. */
export interface MediaServerInfo {
  id: string;
  tenant: string;
  agentId: string;
  capabilities: string[];
  endpoints: BmcEndpoints;
}

/**
 * What the media plugin needs from the rest of the relay, wired from the
 * identity, inventory and agents plugins in app.ts; tests pass their own.
 */
export interface MediaDependencies {
  findServer(serverId: string): Promise<MediaServerInfo | undefined>;
  /**
   * Whether the caller's grants reach the server (a rack, a label, a list of
   * ids: access/scope.ts), as they do on every `/v1/servers/{id}` route.
   * Absent (the plugin's own tests): the tenant alone decides.
   */
  serverVisible?(who: MediaCaller, serverId: string): Promise<boolean>;
  requestAgent<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs: number): Promise<OperationResult<Op>>;
  /** Verify an agent's bearer JWT as the control endpoint does; returns its agent id. */
  verifyAgentToken(token: string): Promise<string>;
  /**
   * Uploads into the target agent's cache (the store's rows). Without them (the plugin's own tests) every
   * upload is kept in the relay's file store, as a single process without a target server does.
   */
  uploads?: AgentUploads;
  /** The agent's control connection is on this process (its pull for an upload arrives here); default: never. */
  agentConnectedHere?(agentId: string): boolean;
  /** The public URL of the replica holding the agent (this one's included), undefined when offline everywhere. */
  gatewayUrlOf?(agentId: string): Promise<string | undefined>;
  /** The tenants' media URL policies (mount by URL); without them every URL is refused. */
  urlPolicies?: {
    get(tenant: string): Promise<MediaUrlPolicyView>;
    set(tenant: string, policy: MediaUrlPolicy, by: string): Promise<MediaUrlPolicyView>;
  };
  /** Append to the audit log (who mounted what where); tests may leave it out. */
  audit?(request: FastifyRequest, event: { action: string; outcome: 'success' | 'failure' | 'denied'; subject: string; tenant: string; target: string; details?: Record<string, unknown> }): Promise<void>;
}
