import Type, { type Static } from 'typebox';
import { SLUG_PATTERN } from '../ids.js';

export const Slug = Type.String({ pattern: SLUG_PATTERN, minLength: 1, maxLength: 63 });

/** What a BMC speaks, and where. Addresses travel upstream; credentials never do. */
export const BmcEndpoints = Type.Object(
  {
    /** IPMI over LAN: `host` or `host:port` (UDP, default 623). */
    ipmi: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    /** Redfish service root base, e.g. `https://10.0.0.5` (DSP0266 §6). */
    redfish: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** Graphical console: `vnc://host:port`, `host:5900`, or `ws(s)://…/kvm/0`. */
    vnc: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** Serial console over WebSocket, OpenBMC `/console0` style. */
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** The BMC's own web UI, `https://host[:port]` (an origin, no path): the Host its pages expect. */
    web: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: false },
);
export type BmcEndpoints = Static<typeof BmcEndpoints>;

export const Capability = Type.Union([
  Type.Literal('power'),
  Type.Literal('boot'),
  Type.Literal('sensors'),
  Type.Literal('sel'),
  Type.Literal('sol'),
  Type.Literal('serial'),
  Type.Literal('vnc'),
  Type.Literal('media'),
  Type.Literal('web'),
]);
export type Capability = Static<typeof Capability>;

export const Labels = Type.Record(Type.String({ maxLength: 63 }), Type.String({ maxLength: 255 }), {
  maxProperties: 64,
});

/** One BMC as an agent registers it (control message `inventory`). */
export const ServerRegistration = Type.Object(
  {
    id: Slug,
    name: Type.String({ minLength: 1, maxLength: 255 }),
    tenant: Slug,
    rack: Slug,
    labels: Type.Optional(Labels),
    endpoints: BmcEndpoints,
    capabilities: Type.Array(Capability, { maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type ServerRegistration = Static<typeof ServerRegistration>;

export const PowerState = Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('unknown')]);
export type PowerState = Static<typeof PowerState>;

/** A power action (`POST /v1/servers/{id}/power`, control op `power.set`). */
export const PowerAction = Type.Union([
  Type.Literal('on'),
  Type.Literal('off'),
  Type.Literal('cycle'),
  Type.Literal('reset'),
  Type.Literal('soft'),
]);
export type PowerAction = Static<typeof PowerAction>;

/**
 * A power action the BMC accepted and the relay is confirming: BMCs answer
 * before they act (one emulator 1–11 s later), so until the BMC reports
 * `target` (a cycle: off, then on) the server shows this instead of a state
 * read too early.
 */
export const PendingPower = Type.Object({
  action: PowerAction,
  target: Type.Union([Type.Literal('on'), Type.Literal('off')]),
  /** ISO-8601 time the BMC accepted the action. */
  since: Type.String(),
});
export type PendingPower = Static<typeof PendingPower>;

/** How the last power action through this relay ended. */
export const PowerOutcome = Type.Object({
  action: PowerAction,
  target: Type.Union([Type.Literal('on'), Type.Literal('off')]),
  /** true: the BMC reported the target; false: the deadline passed first (`power` is what it reports). */
  confirmed: Type.Boolean(),
  /** ISO-8601 time of the outcome. */
  at: Type.String(),
  /** Seconds from the BMC's acceptance to the outcome. */
  seconds: Type.Number({ minimum: 0 }),
});
export type PowerOutcome = Static<typeof PowerOutcome>;

export const AgentStatus = Type.Union([Type.Literal('online'), Type.Literal('offline')]);
export type AgentStatus = Static<typeof AgentStatus>;

/** The virtual media image mounted on a server, as the tree's badge shows it. */
export const ServerMediaBadge = Type.Object({
  filename: Type.String({ maxLength: 255 }),
  /** ISO-8601 time of the mount, when known. */
  since: Type.Union([Type.String(), Type.Null()]),
  /** Who mounted it, when known. */
  by: Type.Union([Type.String(), Type.Null()]),
});
export type ServerMediaBadge = Static<typeof ServerMediaBadge>;

/**
 * What the agent knows about its link to a server's BMC besides the power
 * state: why the last attempt failed, whether the BMC rejected the
 * configured credentials (the agent then holds off logging in until
 * `retryAt`, so a BMC never locks the account), and what the last login
 * negotiated.
 */
export const BmcLinkStatus = Type.Object({
  credentials: Type.Optional(Type.Literal('rejected')),
  /** ISO-8601: the agent's next login attempt while credentials are rejected. */
  retryAt: Type.Optional(Type.String({ maxLength: 64 })),
  error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 512 }) })),
  /** `ipmi-v2.0`, `ipmi-v1.5`, `redfish`. */
  protocol: Type.Optional(Type.String({ maxLength: 32 })),
  /** The RMCP+ cipher suite of the last IPMI v2.0 login. */
  cipherSuite: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
});
export type BmcLinkStatus = Static<typeof BmcLinkStatus>;

/** A server as the REST API shows it (`GET /v1/servers`). */
export const ServerView = Type.Object({
  id: Slug,
  name: Type.String(),
  tenant: Slug,
  region: Slug,
  datacenter: Slug,
  rack: Slug,
  labels: Labels,
  endpoints: BmcEndpoints,
  capabilities: Type.Array(Capability),
  agentId: Type.String(),
  agent: AgentStatus,
  power: PowerState,
  /** ISO-8601 time of the last state report from the agent, if any. */
  stateAt: Type.Union([Type.String(), Type.Null()]),
  /** Live console connections to this server through the relay (optional: older relays do not send it). */
  sessions: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The mounted virtual media image, or null (optional: older relays do not send it). */
  media: Type.Optional(Type.Union([ServerMediaBadge, Type.Null()])),
  /** The agent's link to the BMC (credentials rejected, last error, negotiated protocol), or null before any report. */
  bmc: Type.Optional(Type.Union([BmcLinkStatus, Type.Null()])),
  /** A power action accepted and not yet confirmed (the tree shows `cycling…`), or null. */
  pendingPower: Type.Optional(Type.Union([PendingPower, Type.Null()])),
  /** The last power action's outcome (whichever replica confirmed it), or null. */
  lastPower: Type.Optional(Type.Union([PowerOutcome, Type.Null()])),
});
export type ServerView = Static<typeof ServerView>;

/**
 * The agent carrying a server, as the server's detail shows it. `name` and
 * `version` are provider data (the agents list is the provider's): only a
 * caller who may manage agents gets them; the id and whether it is online
 * are on every server view already.
 */
export const ServerAgent = Type.Object({
  id: Type.String(),
  name: Type.Optional(Type.String()),
  version: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  state: AgentStatus,
  /** ISO-8601 time of the agent's last heartbeat anywhere in the deployment, null before its first. */
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
  region: Slug,
  datacenter: Slug,
});
export type ServerAgent = Static<typeof ServerAgent>;

/**
 * The relay replica holding the agent's control connection now (a single
 * process: the relay itself). `url` is that replica's public URL, where
 * console streams of this server go; `replicaId` (the deployment's internal
 * name for it, random per start) only for a caller who may manage agents.
 */
export const ServerGateway = Type.Object({
  replicaId: Type.Optional(Type.String()),
  url: Type.String(),
  region: Type.Union([Slug, Type.Null()]),
});
export type ServerGateway = Static<typeof ServerGateway>;

/** Which agent and which gateway carry a server: `gateway` is absent while the agent is offline. */
export const ServerConnection = Type.Object({
  agent: ServerAgent,
  gateway: Type.Optional(ServerGateway),
});
export type ServerConnection = Static<typeof ServerConnection>;

/**
 * One live console leg on a server, at any replica: who (the display name the
 * stream token carries), which console, in which mode, and since when it is
 * spliced. The kinds and modes are those of streams/session.ts, spelled out
 * here because that module imports this one.
 */
export const ServerConsoleHolder = Type.Object({
  user: Type.String({ maxLength: 255 }),
  kind: Type.Union([Type.Literal('sol'), Type.Literal('serial'), Type.Literal('vnc'), Type.Literal('web')]),
  mode: Type.Union([Type.Literal('control'), Type.Literal('view')]),
  /** ISO-8601 time the leg was spliced (a reconnect starts it again). */
  since: Type.String(),
});
export type ServerConsoleHolder = Static<typeof ServerConsoleHolder>;

/**
 * One server (`GET /v1/servers/{id}`): its view, the connection that carries it (absent when its agent is unknown to
 * the store) and who is on its consoles, oldest first (optional: older relays do not send it; a replica that has not
 * heard another replica's legs yet does not list them).
 */
export const ServerDetail = Type.Object({
  ...ServerView.properties,
  connection: Type.Optional(ServerConnection),
  consoles: Type.Optional(Type.Array(ServerConsoleHolder)),
});
export type ServerDetail = Static<typeof ServerDetail>;

export const ServerList = Type.Object({ servers: Type.Array(ServerView) });
export type ServerList = Static<typeof ServerList>;
