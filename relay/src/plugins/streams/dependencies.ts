import type { ControlOperation, OperationParams, OperationResult } from '@lightsout/shared';
import type { Principal } from '../../identity/verifier.js';
import type { SingleUseTokens } from './tokens.js';

/** A server as the inventory knows it, enough to decide who may open a console on it. */
export interface StreamServer {
  id: string;
  tenant: string;
  agentId: string;
  capabilities: string[];
}

/**
 * What the streams plugin needs from the rest of the relay. Wired from the
 * identity, inventory and agents plugins in app.ts; tests pass their own.
 */
export interface StreamDependencies {
  findServer(serverId: string): Promise<StreamServer | undefined>;
  /** Ask an agent over its control connection; throws AGENT_OFFLINE / AGENT_TIMEOUT / the agent's error. */
  requestAgent<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs: number): Promise<OperationResult<Op>>;
  /** Verify an agent's bearer JWT exactly as the control endpoint does; returns its agent id. */
  verifyAgentToken(token: string): Promise<string>;
  /** Calls `listener` whenever an agent's control connection comes or goes here; returns the unsubscribe. */
  watchAgentPresence?(listener: (agentId: string, online: boolean) => void): () => void;
  /** Whether the agent's control connection is up here now. */
  agentOnline?(agentId: string): boolean;
  /**
   * Whether the agent's control connection is on this process: it dials back
   * to the relay it is connected to, so only that gateway can splice its legs.
   * Default: agentOnline.
   */
  agentConnectedHere?(agentId: string): boolean;
  /**
   * The public URL of the replica holding the agent's control connection,
   * wherever in the deployment that is; undefined when it is connected
   * nowhere. Default: this relay when the agent is connected here.
   */
  gatewayUrlOf?(agentId: string): Promise<string | undefined>;
  /** Whether the caller's grants include this server (no grants: every server of their tenant); default yes. */
  grantsAllow?(principal: Principal, serverId: string): Promise<boolean>;
  /** Where connect tokens are spent: shared by every relay process on the store, kept across restarts. */
  singleUse: SingleUseTokens;
}
