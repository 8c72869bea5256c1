import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { LightsoutError } from '../errors.js';
import { describeField, MAX_JSON_DEPTH, nestedDeeperThan } from '../json-limits.js';
import { StreamLimits, StreamMode } from './session.js';

/**
 * Data-connection framing. Binary WebSocket frames carry payload bytes and
 * nothing else (no header: the relay splices them without re-encoding).
 * Text frames carry one small JSON control message each.
 *
 * Offsets count payload bytes of one direction since the session began, so a
 * reconnecting end can say exactly where it stands:
 *   resume {offset}  first message of every leg, both directions: "I hold
 *                    `offset` bytes from you; send from there".
 *   ack {offset}     periodically: "I hold `offset` bytes; drop them from
 *                    your replay buffer" (it also returns send credit).
 * The relay adds messages of its own toward the client (`token`, `path`)
 * and never forwards them to the agent.
 *
 * Input typed while the path to the BMC is down is refused, never queued to
 * run later: the client stops sending when told `path {state: down}`; what
 * the relay still receives then it does not forward but replaces by
 * `dropped {bytes}` toward the agent (so both ends still count the same
 * offsets) and tells the client with the same message; the agent discards
 * input that reaches it after it was stalled (it was typed long before) and
 * says `dropped` too. No dropped byte ever reaches the BMC.
 */
const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Text = (maxLength: number) => Type.String({ maxLength });

export const ResumeMessage = Type.Object({ type: Type.Literal('resume'), offset: Offset }, { additionalProperties: false });
export const AckMessage = Type.Object({ type: Type.Literal('ack'), offset: Offset }, { additionalProperties: false });
export const ResizeMessage = Type.Object(
  { type: Type.Literal('resize'), cols: Type.Integer({ minimum: 1, maximum: 10_000 }), rows: Type.Integer({ minimum: 1, maximum: 10_000 }) },
  { additionalProperties: false },
);
export const BreakMessage = Type.Object({ type: Type.Literal('break') }, { additionalProperties: false });
export const TakeOverMessage = Type.Object({ type: Type.Literal('take-over') }, { additionalProperties: false });

export const StreamMember = Type.Object({ user: Text(255), mode: StreamMode, attached: Type.Boolean() });
export type StreamMember = Static<typeof StreamMember>;

/** Agent → client: who is on this console, and what just happened. */
export const StatusMessage = Type.Object(
  {
    type: Type.Literal('status'),
    /** This connection's mode right now. */
    mode: StreamMode,
    /** User holding control, or null. */
    controller: Type.Union([Text(255), Type.Null()]),
    members: Type.Array(StreamMember, { maxItems: 64 }),
    event: Type.Optional(
      Type.Union([Type.Literal('joined'), Type.Literal('left'), Type.Literal('took-over'), Type.Literal('attached'), Type.Literal('bmc-closed')]),
    ),
    /** The user the event is about. */
    user: Type.Optional(Text(255)),
  },
  { additionalProperties: false },
);
/** Relay → client: whether the path to the BMC (the agent's connection) is up; input sent while down is dropped. */
export const PathMessage = Type.Object({ type: Type.Literal('path'), state: Type.Union([Type.Literal('up'), Type.Literal('down')]) }, { additionalProperties: false });
/**
 * Relay → agent: `bytes` of client input were discarded here, count them as
 * received and never write them. Relay or agent → client: that many bytes of
 * your input were discarded, none of them reached the BMC.
 */
export const DroppedMessage = Type.Object({ type: Type.Literal('dropped'), bytes: Type.Integer({ minimum: 1, maximum: StreamLimits.maxDataFrameBytes }) }, { additionalProperties: false });
/** Relay → client: a fresh resume token (the connect token is single-use). */
export const TokenMessage = Type.Object(
  { type: Type.Literal('token'), token: Text(2048), expiresAt: Type.Integer() },
  { additionalProperties: false },
);
/** Any → peer, just before closing: why. */
export const StreamErrorMessage = Type.Object(
  { type: Type.Literal('error'), code: Text(64), message: Text(512) },
  { additionalProperties: false },
);

/** What a client may send; the relay drops the connection on anything else. */
export const ClientStreamMessage = Type.Union([ResumeMessage, AckMessage, ResizeMessage, BreakMessage, TakeOverMessage]);
/** What an agent receives on a data connection: the client's messages, and the relay's `dropped`. */
export const AgentBoundStreamMessage = Type.Union([ResumeMessage, AckMessage, ResizeMessage, BreakMessage, TakeOverMessage, DroppedMessage]);
/** What an agent may send toward a client. */
export const AgentStreamMessage = Type.Union([ResumeMessage, AckMessage, StatusMessage, StreamErrorMessage, DroppedMessage]);
/** What a client receives (agent messages plus the relay's token and path). */
export const ServerStreamMessage = Type.Union([ResumeMessage, AckMessage, StatusMessage, StreamErrorMessage, DroppedMessage, TokenMessage, PathMessage]);

export type ResumeMessage = Static<typeof ResumeMessage>;
export type AckMessage = Static<typeof AckMessage>;
export type StatusMessage = Static<typeof StatusMessage>;
export type TokenMessage = Static<typeof TokenMessage>;
export type StreamErrorMessage = Static<typeof StreamErrorMessage>;
export type ClientStreamMessage = Static<typeof ClientStreamMessage>;
export type AgentBoundStreamMessage = Static<typeof AgentBoundStreamMessage>;
export type PathMessage = Static<typeof PathMessage>;
export type DroppedMessage = Static<typeof DroppedMessage>;
export type AgentStreamMessage = Static<typeof AgentStreamMessage>;
export type ServerStreamMessage = Static<typeof ServerStreamMessage>;

const clientMessage = Compile(ClientStreamMessage);
const agentMessage = Compile(AgentStreamMessage);
const agentBoundMessage = Compile(AgentBoundStreamMessage);
const serverMessage = Compile(ServerStreamMessage);

function parse(frame: string): unknown {
  // Characters, not bytes: a lower bound of the UTF-8 size, enough as a cap before parsing.
  if (frame.length > StreamLimits.maxControlFrameBytes) {
    throw new LightsoutError('FRAME_TOO_LARGE', `stream control message of ${frame.length} characters exceeds ${StreamLimits.maxControlFrameBytes}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    throw new LightsoutError('MALFORMED_MESSAGE', 'stream control message is not JSON');
  }
  // The relay re-encodes what it forwards; JSON.stringify recurses.
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new LightsoutError('MALFORMED_MESSAGE', `stream control message is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

function decodeWith<T>(validator: { Check(value: unknown): boolean }, frame: string, from: string): T {
  const value = parse(frame);
  if (!validator.Check(value)) {
    const type = typeof value === 'object' && value !== null && !Array.isArray(value) ? describeField((value as Record<string, unknown>)['type']) : typeof value;
    throw new LightsoutError('MALFORMED_MESSAGE', `invalid stream control message from the ${from} (type ${type})`);
  }
  return value as T;
}

export function decodeClientStreamMessage(frame: string): ClientStreamMessage {
  return decodeWith<ClientStreamMessage>(clientMessage, frame, 'client');
}
/** At the agent: a message from the client, or the relay's `dropped`. */
export function decodeAgentBoundStreamMessage(frame: string): AgentBoundStreamMessage {
  return decodeWith<AgentBoundStreamMessage>(agentBoundMessage, frame, 'relay');
}
export function decodeAgentStreamMessage(frame: string): AgentStreamMessage {
  return decodeWith<AgentStreamMessage>(agentMessage, frame, 'agent');
}
export function decodeServerStreamMessage(frame: string): ServerStreamMessage {
  return decodeWith<ServerStreamMessage>(serverMessage, frame, 'relay');
}
export function encodeStreamMessage(message: AgentBoundStreamMessage | ServerStreamMessage): string {
  return JSON.stringify(message);
}
