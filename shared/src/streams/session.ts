import Type, { type Static } from 'typebox';
import { Slug } from '../schemas/server.js';

/**
 * Console sessions (the stream plane). A client asks the relay for a session
 * on one server; the relay answers with a short-lived token and a URL; the
 * client opens a WebSocket there; the relay asks the server's agent to dial
 * back a WebSocket of its own for that session and splices the two. See
 * docs/streams.md for the whole sequence.
 *
 * `web` is the BMC's own web UI: the REST call answers a one-time launch URL
 * on an origin of the session's own (`webUrl`), and the relay carries each
 * HTTP connection the browser opens there as one stream of kind `web` (plain
 * HTTP to the agent, which holds the TLS connection to the BMC).
 */
export const StreamKind = Type.Union([Type.Literal('sol'), Type.Literal('serial'), Type.Literal('vnc'), Type.Literal('web')]);
export type StreamKind = Static<typeof StreamKind>;

/** `control` may type; `view` only watches and may ask for control (`take-over`). */
export const StreamMode = Type.Union([Type.Literal('control'), Type.Literal('view')]);
export type StreamMode = Static<typeof StreamMode>;

/** The WebSocket subprotocol of a data connection. The token travels as a second offered protocol `bearer.<jwt>`. */
export const STREAM_SUBPROTOCOL = 'lightsout.stream.v1';
export const STREAM_BEARER_PROTOCOL_PREFIX = 'bearer.';

/** Session ids are random and unguessable: 22 base64url characters = 132 bits. */
export const SESSION_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';
export const SessionId = Type.String({ pattern: SESSION_ID_PATTERN });

/** `POST /v1/servers/{id}/sessions` */
export const SessionCreate = Type.Object(
  {
    kind: StreamKind,
    mode: Type.Optional(StreamMode),
    /**
     * SOL only, in control mode: if another session holds the BMC's SOL
     * (another tool, e.g. `ipmitool sol activate`; "SOL already active",
     * IPMI v2.0 §24.3), the agent deactivates it and activates it for this
     * console. Without it such a console fails with `BMC_BUSY`.
     */
    takeover: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type SessionCreate = Static<typeof SessionCreate>;

export const SessionCreated = Type.Object({
  sessionId: SessionId,
  /** `ws(s)://relay/v1/streams/{sessionId}`; the token goes in `Sec-WebSocket-Protocol` or `?token=`. */
  streamUrl: Type.String(),
  token: Type.String(),
  /** ISO-8601: connect before this or ask again. */
  expiresAt: Type.String(),
  serverId: Slug,
  kind: StreamKind,
  mode: StreamMode,
  /**
   * `http(s)://deployment/v1/streams/{sessionId}/route`: any replica answers
   * where the session's agent is connected now (StreamRoute). A client whose
   * gateway died asks it before resuming, with its latest stream token.
   */
  routeUrl: Type.Optional(Type.String()),
  /**
   * Kind `web` only: open this in a browser, once, within `expiresAt`. It is
   * on the session's own origin (`https://<sessionId>.<webUi.domain>`), and
   * trades the one-time launch token in it for a cookie of that origin
   * alone; `token` is the same launch token and `streamUrl` the origin.
   */
  webUrl: Type.Optional(Type.String()),
});
export type SessionCreated = Static<typeof SessionCreated>;

/**
 * `GET /v1/streams/{sessionId}/route` with `Authorization: Bearer <stream
 * token>` (connect or resume; checked, not spent): the stream URL of the
 * gateway that holds the session's agent now. 503 AGENT_OFFLINE while the
 * agent is connected nowhere (it is failing over: ask again).
 */
export const StreamRoute = Type.Object({
  streamUrl: Type.String({ pattern: '^wss?://' }),
});
export type StreamRoute = Static<typeof StreamRoute>;

/**
 * Claims of a stream token (JWT, EdDSA, signed by the relay's stream key,
 * RFC 7519 §4). `use` separates the single-use token handed out by the REST
 * call (`connect`) from the token the gateway pushes down a live connection
 * for reconnecting (`resume`).
 */
export const StreamTokenClaims = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String(),
  exp: Type.Integer(),
  iat: Type.Integer(),
  jti: Type.String({ minLength: 8, maxLength: 64 }),
  /**
   * `web-launch` (the one-time token in a web session's launch URL) and `web`
   * (the cookie of the session's origin) carry another audience than the
   * gateway's, so neither opens a stream; the gateway also refuses them by use.
   */
  use: Type.Union([Type.Literal('connect'), Type.Literal('resume'), Type.Literal('web-launch'), Type.Literal('web')]),
  sid: SessionId,
  srv: Slug,
  ten: Slug,
  knd: StreamKind,
  mod: StreamMode,
  /** The agent the session is assigned to. */
  agt: Type.String({ minLength: 1, maxLength: 128 }),
  /** Display name of the user, shown to the other members of a shared console. */
  usr: Type.String({ maxLength: 255 }),
  /** Connect tokens of a session created with `takeover` (SessionCreate): the agent may end another holder of the BMC's SOL. */
  tko: Type.Optional(Type.Literal(true)),
  /** Web tokens: when the web session ends (epoch seconds; the user's session's end): the cookie a launch trades for lives until then. */
  wxp: Type.Optional(Type.Integer()),
  /**
   * When the session was granted (epoch seconds): the `iat` of its first
   * token, carried unchanged by every resume token, leg and cookie signed for
   * it since. A revocation refuses what was granted before it, however
   * recently a token of the chain was signed. Absent in tokens of relays
   * before it: their `iat` stands in.
   */
  gat: Type.Optional(Type.Integer()),
});
export type StreamTokenClaims = Static<typeof StreamTokenClaims>;

export const StreamTiming = {
  /** A connect token is good for this long (the brief: ≤ 60 s to connect). */
  connectTokenTtlSeconds: 60,
  /** A resume token pushed down a live connection is good for this long; refreshed at half-life. */
  resumeTokenTtlSeconds: 300,
  /** The agent keeps a detached session (and its BMC side) this long. */
  graceMs: 30_000,
  /** The relay waits this long for the agent to dial back. */
  dialBackTimeoutMs: 10_000,
  /**
   * Input that reaches the agent after its event loop stood still this long
   * (the process was stopped or starved) was typed that long ago: it is
   * discarded and the client told, never run late on the BMC.
   */
  staleInputMs: 2_000,
  /** How long a client waits for a route answer before resuming at the URL it had. */
  locateTimeoutMs: 2_000,
} as const;

export const StreamLimits = {
  /** Largest binary frame anyone sends; the relay refuses larger ones (1009). */
  maxDataFrameBytes: 256 * 1024,
  /**
   * Senders cut payload into frames of at most this. Smaller than one socket
   * read (Node reads 64 KiB at a time), so a frame rarely straddles two reads:
   * `ws` hands a frame that lies within one read on as a view, and copies one
   * that straddles reads into a new buffer — at 64 KiB every data frame was
   * copied in the relay and again in the agent (relay-throughput,
   * docs/benchmarks.md). 64 KiB frames were tried again on 6 Dec: no gain
   * in relay-throughput when the two alternated, and a keystroke beside bulk
   * streams waited longer (keystroke-latency p99 ~30 ms against ~19).
   */
  sendChunkBytes: 16 * 1024,
  /** Largest text (control) frame. */
  maxControlFrameBytes: 4096,
  /**
   * Unacknowledged bytes a sender may have in flight per direction (credit
   * window); also the most a sender holds for replay. 8 MiB covers the
   * bandwidth-delay product of 1 Gbit/s at 60 ms, and of the loopback bench
   * chain (relay-throughput: 4 MiB kept the chain 40 % below what 8 MiB gets).
   */
  windowBytes: 8 * 1024 * 1024,
  /** The receiver acknowledges after this many new bytes (and on an idle timer). */
  ackEveryBytes: 256 * 1024,
  ackIdleMs: 200,
  /**
   * Bytes one data connection may deliver per event-loop turn before the
   * process reads the others (TurnScheduler): two 64 KiB socket reads.
   */
  readQuantumBytes: 128 * 1024,
  /**
   * Bytes a process reads per event-loop turn over all its data connections
   * before the heavy ones wait (TurnScheduler). Relaying 512 KiB is well
   * under a millisecond of CPU, so a keystroke waits at most about that long
   * in each process it crosses.
   */
  turnBytes: 512 * 1024,
  /** A connection that delivered less than this in a turn is interactive and never waits for the turn budget. */
  lightBytes: 16 * 1024,
  /** Relay: pause reading one side while the other side has more than this queued. */
  relayHighWaterBytes: 512 * 1024,
  relayLowWaterBytes: 128 * 1024,
} as const;

/**
 * WebSocket close codes on data connections (RFC 6455 §7.4.2, 4000–4999 are
 * ours). `final` codes end the session: a client must not try to resume.
 */
export const StreamCloseCode = {
  /** The leg ended but the session lives on: reconnect and resume. */
  RESUME: 4000,
  MALFORMED_MESSAGE: 4001,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  /** No such session at the agent (grace period over, or never existed). */
  NOT_FOUND: 4404,
  /** Another connection of the same session took over this one. */
  REPLACED: 4409,
  /** The session ended for good (user left, BMC closed, overflowed while detached). */
  ENDED: 4410,
  AGENT_OFFLINE: 4503,
  BMC_UNREACHABLE: 4502,
  /** Too large a message (RFC 6455 §7.4.1 1009). */
  FRAME_TOO_LARGE: 1009,
} as const;

const finalCloseCodes = new Set<number>([
  StreamCloseCode.MALFORMED_MESSAGE,
  StreamCloseCode.UNAUTHENTICATED,
  StreamCloseCode.FORBIDDEN,
  StreamCloseCode.NOT_FOUND,
  StreamCloseCode.REPLACED,
  StreamCloseCode.ENDED,
  StreamCloseCode.FRAME_TOO_LARGE,
  // The BMC side could not be opened (unreachable, wrong credentials): retrying within seconds will not help.
  StreamCloseCode.BMC_UNREACHABLE,
  1000,
]);

/** Whether a client should give up (true) or reconnect and resume (false) after a close with this code. */
export function isFinalCloseCode(code: number): boolean {
  return finalCloseCodes.has(code);
}

/**
 * The agent's closes of a data leg that end the session itself; the relay
 * passes them on to the client. Every other close of an agent leg loses only
 * that leg, and the client is told to resume: MALFORMED_MESSAGE is the agent
 * dropping a leg that misbehaved (the session waits for a proper resume),
 * and a dropped or refused connection between relay and agent says nothing
 * about the session.
 */
const sessionEndingAgentCloseCodes = new Set<number>([StreamCloseCode.ENDED, StreamCloseCode.NOT_FOUND, StreamCloseCode.FORBIDDEN, StreamCloseCode.REPLACED]);

export function agentCloseEndsSession(code: number): boolean {
  return sessionEndingAgentCloseCodes.has(code);
}

/** Control ops the relay sends the agent for the stream plane (additive to ControlOperations). */
export interface StreamOpenParams {
  sessionId: string;
  /** One id per data connection (leg); the agent dials back with it. */
  legId: string;
  serverId: string;
  tenant: string;
  kind: StreamKind;
  mode: StreamMode;
  /** Subject and display name of the user. */
  subject: string;
  user: string;
  /** true when the client resumes: the agent must already hold the session. */
  resume: boolean;
  /** Path (and query) the agent dials back on its relay URL. */
  dialPath: string;
  /** SOL: end another session's hold on the BMC's SOL if it has one (SessionCreate.takeover). */
  takeover?: boolean;
}
export interface StreamOpenResult {
  /** Opening this session deactivated SOL that another BMC session held (asked for with `takeover`). */
  tookOver?: true;
}
export interface StreamCloseParams {
  sessionId: string;
}
