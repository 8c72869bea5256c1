import Type, { type Static } from 'typebox';
import { DiscoveredBmc } from '../schemas/discovery.js';
import { BmcLinkStatus, ServerRegistration, PowerState } from '../schemas/server.js';

/**
 * Relay ⇄ agent control channel: one persistent WebSocket per agent, opened
 * by the agent (outbound only), JSON text frames. Every frame carries the
 * protocol version `v`; a peer that sees a different major version closes
 * with PROTOCOL_VERSION. Binary frames are not used on this channel.
 *
 * Lifecycle:
 *   agent                                relay
 *   ── WS upgrade, Authorization: Bearer <agent JWT, EdDSA> ──▶
 *   ◀────────────────────────── welcome {agentId, heartbeatIntervalMs, …}
 *   hello {agentVersion, capabilities} ─▶
 *   inventory {servers, more?} ────────▶   (full replace, after every connect; in parts
 *                                          when the relay's welcome lists `inventory-parts`)
 *   ◀────────────────────────── inventory-ack {accepted, rejected, assigned}
 *   heartbeat {seq} ───────────────────▶   every heartbeatIntervalMs
 *   ◀────────────────────────── heartbeat-ack {seq}
 *   state {serverId, power, reachable, bmc?} ▶ on change and after inventory
 *   discovered {scanId, bmcs, more?} ──▶   after each scan, in parts (only to a relay whose
 *                                          welcome lists `discovery`)
 *   ◀────────────────────────── request {id, op, params}
 *   response {id, ok, result|error} ───▶
 */
export const CONTROL_PROTOCOL_VERSION = 1;
/** A control frame larger than this is refused (FRAME_TOO_LARGE) and the connection closed. */
export const CONTROL_MAX_FRAME_BYTES = 1024 * 1024;
/** WebSocket close codes used on the control channel (4000–4999: application). */
export const ControlCloseCode = {
  PROTOCOL_VERSION: 4000,
  MALFORMED_MESSAGE: 4001,
  FRAME_TOO_LARGE: 4002,
  AGENT_REVOKED: 4003,
  HEARTBEAT_TIMEOUT: 4004,
  REPLACED: 4005,
} as const;

/**
 * Optional abilities a relay announces in its welcome. An older agent ignores
 * the list; a newer agent uses a feature only when the relay named it.
 *   inventory-parts  an inventory may arrive as several `inventory` frames,
 *                    all but the last with `more: true`; the relay applies
 *                    them together, as one full replace.
 *   discovery        the relay stores `discovered` reports (an older relay would close the
 *                    connection on a message type it does not know).
 */
export const ControlFeature = { INVENTORY_PARTS: 'inventory-parts', DISCOVERY: 'discovery' } as const;

/** BMCs in one `discovered` frame (about 500 bytes each): the rest follow in more frames. */
export const CONTROL_MAX_DISCOVERED_PER_FRAME = 1000;
/** BMCs in one scan report, all parts together: a /16, the widest range, holds 65,534. */
export const CONTROL_MAX_DISCOVERED = 65_536;

/** Most servers one agent registers; the acknowledgement lists each once. */
export const CONTROL_MAX_SERVERS = 10_000;

const V = Type.Literal(CONTROL_PROTOCOL_VERSION);
/**
 * Every string and list a peer controls is bounded, generously: a refused
 * frame closes the control channel. Nesting depth is bounded at decode
 * (MAX_JSON_DEPTH), which a schema cannot say.
 */
const ErrorPayload = Type.Object({
  code: Type.String({ maxLength: 64 }),
  message: Type.String({ maxLength: 16_384 }),
  hint: Type.Optional(Type.String({ maxLength: 4096 })),
  details: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { maxProperties: 256 })),
});
const ServerId = Type.String({ maxLength: 63 });

// ── relay → agent ────────────────────────────────────────────────────────
export const WelcomeMessage = Type.Object({
  v: V,
  type: Type.Literal('welcome'),
  agentId: Type.String({ maxLength: 128 }),
  region: Type.String({ maxLength: 128 }),
  datacenter: Type.String({ maxLength: 128 }),
  /** At most 10 minutes, the relay's own config bound: Node's timers fire at once above 2³¹−1 ms. */
  heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
  maxFrameBytes: Type.Integer({ minimum: 1024 }),
  /** ControlFeature values (absent from older relays: none). */
  features: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
});
/** A server's tenant as a provider admin assigned it (PUT /v1/servers/:id/tenant), which wins over the agent's config. */
export const ServerAssignParams = Type.Object({ serverId: Type.String({ minLength: 1, maxLength: 63 }), tenant: Type.String({ minLength: 1, maxLength: 63 }) });
export const ServerAssignResult = Type.Object({ sessionsEnded: Type.Integer({ minimum: 0 }) });
export const InventoryAckMessage = Type.Object({
  v: V,
  type: Type.Literal('inventory-ack'),
  accepted: Type.Array(ServerId, { maxItems: CONTROL_MAX_SERVERS }),
  rejected: Type.Array(Type.Object({ serverId: ServerId, error: ErrorPayload }), { maxItems: CONTROL_MAX_SERVERS }),
  /** Accepted servers whose tenant is not the one the agent reported (an older agent ignores this). */
  assigned: Type.Optional(Type.Array(ServerAssignParams, { maxItems: CONTROL_MAX_SERVERS })),
});
export const HeartbeatAckMessage = Type.Object({ v: V, type: Type.Literal('heartbeat-ack'), seq: Type.Integer({ minimum: 0 }) });
export const RequestMessage = Type.Object({
  v: V,
  type: Type.Literal('request'),
  id: Type.String({ minLength: 1, maxLength: 64 }),
  op: Type.String({ minLength: 1, maxLength: 64 }),
  params: Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { maxProperties: 256 }),
  /** Milliseconds the relay will wait; the agent should give up no later. */
  timeoutMs: Type.Integer({ minimum: 1 }),
});
export const ErrorMessage = Type.Object({ v: V, type: Type.Literal('error'), error: ErrorPayload });
/** `discovery.scan`: start a scan now (one already running is reported instead of a second). */
export const DiscoveryScanResult = Type.Object({ scanId: Type.String({ maxLength: 64 }), started: Type.Boolean() });
/**
 * `discovery.adopt`: make the BMC the last scan found at `address` a server of this agent, with the
 * credential set the agent's config names `credentials` (a reference: the password stays on the agent).
 */
export const DiscoveryAdoptParams = Type.Object({
  address: Type.String({ minLength: 7, maxLength: 15 }),
  serverId: Type.String({ minLength: 1, maxLength: 63 }),
  name: Type.String({ minLength: 1, maxLength: 255 }),
  tenant: Type.String({ minLength: 1, maxLength: 63 }),
  rack: Type.String({ minLength: 1, maxLength: 63 }),
  credentials: Type.String({ minLength: 1, maxLength: 63 }),
});
export const DiscoveryAdoptResult = Type.Object({ serverId: Type.String(), address: Type.String(), protocols: Type.Array(Type.String()) });

// ── agent → relay ────────────────────────────────────────────────────────
export const HelloMessage = Type.Object({
  v: V,
  type: Type.Literal('hello'),
  agentVersion: Type.String({ maxLength: 64 }),
  capabilities: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }),
});
export const InventoryMessage = Type.Object({
  v: V,
  type: Type.Literal('inventory'),
  servers: Type.Array(ServerRegistration, { maxItems: CONTROL_MAX_SERVERS }),
  /** More parts of this inventory follow (only to a relay whose welcome lists `inventory-parts`). */
  more: Type.Optional(Type.Boolean()),
});
export const HeartbeatMessage = Type.Object({ v: V, type: Type.Literal('heartbeat'), seq: Type.Integer({ minimum: 0 }) });
/**
 * One scan's findings (docs/operations.md, Discovery): every BMC that answered in the configured ranges,
 * in parts of at most CONTROL_MAX_DISCOVERED_PER_FRAME, all but the last with `more: true`. The relay
 * applies them together when the last arrives: a BMC not in the report was not seen by this scan.
 */
export const DiscoveredMessage = Type.Object({
  v: V,
  type: Type.Literal('discovered'),
  scanId: Type.String({ minLength: 1, maxLength: 64 }),
  ranges: Type.Array(Type.String({ maxLength: 18 }), { maxItems: 256 }),
  startedAt: Type.String({ maxLength: 32 }),
  finishedAt: Type.String({ maxLength: 32 }),
  /** Addresses probed and probes sent (datagrams and connection attempts). */
  addresses: Type.Integer({ minimum: 0 }),
  probes: Type.Integer({ minimum: 0 }),
  bmcs: Type.Array(DiscoveredBmc, { maxItems: CONTROL_MAX_DISCOVERED_PER_FRAME }),
  more: Type.Optional(Type.Boolean()),
});
export const StateMessage = Type.Object({
  v: V,
  type: Type.Literal('state'),
  serverId: ServerId,
  power: PowerState,
  /** Whether the agent could talk to the BMC at its last attempt. */
  reachable: Type.Boolean(),
  /** Credentials rejected, last error, negotiated protocol (optional: older agents do not send it). */
  bmc: Type.Optional(BmcLinkStatus),
});
export const ResponseMessage = Type.Union([
  Type.Object({ v: V, type: Type.Literal('response'), id: Type.String({ maxLength: 64 }), ok: Type.Literal(true), result: Type.Unknown() }),
  Type.Object({ v: V, type: Type.Literal('response'), id: Type.String({ maxLength: 64 }), ok: Type.Literal(false), error: ErrorPayload }),
]);

export const RelayToAgent = Type.Union([WelcomeMessage, InventoryAckMessage, HeartbeatAckMessage, RequestMessage, ErrorMessage]);
export const AgentToRelay = Type.Union([HelloMessage, InventoryMessage, HeartbeatMessage, StateMessage, DiscoveredMessage, ResponseMessage, ErrorMessage]);

export type WelcomeMessage = Static<typeof WelcomeMessage>;
export type InventoryAckMessage = Static<typeof InventoryAckMessage>;
export type ServerAssignParams = Static<typeof ServerAssignParams>;
export type ServerAssignResult = Static<typeof ServerAssignResult>;
export type HeartbeatAckMessage = Static<typeof HeartbeatAckMessage>;
export type RequestMessage = Static<typeof RequestMessage>;
export type ErrorMessage = Static<typeof ErrorMessage>;
export type DiscoveryScanResult = Static<typeof DiscoveryScanResult>;
export type DiscoveryAdoptParams = Static<typeof DiscoveryAdoptParams>;
export type DiscoveryAdoptResult = Static<typeof DiscoveryAdoptResult>;
export type HelloMessage = Static<typeof HelloMessage>;
export type InventoryMessage = Static<typeof InventoryMessage>;
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;
export type StateMessage = Static<typeof StateMessage>;
export type DiscoveredMessage = Static<typeof DiscoveredMessage>;
export type ResponseMessage = Static<typeof ResponseMessage>;
export type RelayToAgent = Static<typeof RelayToAgent>;
export type AgentToRelay = Static<typeof AgentToRelay>;
