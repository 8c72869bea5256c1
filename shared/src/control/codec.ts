import { Compile } from 'typebox/compile';
import { LightsoutError } from '../errors.js';
import { describeField, MAX_JSON_DEPTH, nestedDeeperThan } from '../json-limits.js';
import { ServerRegistration } from '../schemas/server.js';
import {
  AgentToRelay,
  CONTROL_MAX_FRAME_BYTES,
  CONTROL_PROTOCOL_VERSION,
  RelayToAgent,
  type AgentToRelay as AgentToRelayMessage,
  type RelayToAgent as RelayToAgentMessage,
} from './messages.js';

const agentToRelay = Compile(AgentToRelay);
const relayToAgent = Compile(RelayToAgent);
const serverRegistration = Compile(ServerRegistration);

/**
 * Validation errors are collected only for a value this small. TypeBox's
 * Errors() walks the whole value and reports every failure (each union
 * member's, too): on a 1 MiB frame that is hundreds of milliseconds of event
 * loop for a frame the relay is about to refuse anyway. Check() stops at the
 * first failure.
 */
const DIAGNOSE_MAX_CHARACTERS = 4096;

export function encodeControl(message: AgentToRelayMessage | RelayToAgentMessage): string {
  return JSON.stringify(message);
}

/** The length is checked before parsing: a hostile peer cannot make us parse 1 GB of JSON. */
function parseFrame(frame: string, maxBytes: number): Record<string, unknown> {
  // UTF-16 length is a lower bound of the UTF-8 byte length; ×3 is the upper bound.
  if (frame.length > maxBytes) {
    throw new LightsoutError('FRAME_TOO_LARGE', `control frame of ${frame.length} characters exceeds ${maxBytes} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame);
  } catch {
    throw new LightsoutError('MALFORMED_MESSAGE', 'control frame is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LightsoutError('MALFORMED_MESSAGE', 'control frame is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  if (record['v'] !== CONTROL_PROTOCOL_VERSION) {
    throw new LightsoutError('PROTOCOL_VERSION', `control protocol version ${describeField(record['v'])} is not ${CONTROL_PROTOCOL_VERSION}`, {
      hint: 'upgrade the agent and relay to matching releases',
    });
  }
  // Before validation: what is decoded here must encode again (the relay forwards responses).
  if (nestedDeeperThan(record, MAX_JSON_DEPTH)) {
    throw new LightsoutError('MALFORMED_MESSAGE', `control frame is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return record;
}

interface Validator {
  Check(value: unknown): boolean;
  Errors(value: unknown): Iterable<{ instancePath: string; message: string }>;
}

function describeErrors(validator: Validator, value: unknown, prefix: string): string {
  return [...validator.Errors(value)]
    .slice(0, 3)
    .map((error) => `${prefix}${error.instancePath || '/'} ${error.message}`)
    .join('; ');
}

/**
 * Where a refused frame went wrong, at a cost bounded by DIAGNOSE_MAX_CHARACTERS
 * whatever the frame's size: an inventory names its first invalid server (found
 * with Check(), which stops early); other large frames are not diagnosed.
 */
function diagnose(validator: Validator, record: Record<string, unknown>, frameLength: number): string {
  const servers = record['servers'];
  if (record['type'] === 'inventory' && Array.isArray(servers)) {
    const index = servers.findIndex((server) => !serverRegistration.Check(server));
    const server: unknown = servers[index];
    if (index >= 0 && JSON.stringify(server).length <= DIAGNOSE_MAX_CHARACTERS) return describeErrors(serverRegistration, server, `/servers/${index}`);
  }
  if (frameLength <= DIAGNOSE_MAX_CHARACTERS) return describeErrors(validator, record, '');
  return `details omitted for a frame of ${frameLength} characters`;
}

function check<T>(validator: Validator, record: Record<string, unknown>, frameLength: number): T {
  if (validator.Check(record)) return record as T;
  throw new LightsoutError('MALFORMED_MESSAGE', `invalid ${describeField(record['type'] ?? 'untyped')} message: ${diagnose(validator, record, frameLength)}`);
}

/** Decode a frame the relay received from an agent. Throws LightsoutError with a stable code. */
export function decodeAgentMessage(frame: string, maxBytes = CONTROL_MAX_FRAME_BYTES): AgentToRelayMessage {
  return check<AgentToRelayMessage>(agentToRelay, parseFrame(frame, maxBytes), frame.length);
}

/** Decode a frame the agent received from the relay. Throws LightsoutError with a stable code. */
export function decodeRelayMessage(frame: string, maxBytes = CONTROL_MAX_FRAME_BYTES): RelayToAgentMessage {
  return check<RelayToAgentMessage>(relayToAgent, parseFrame(frame, maxBytes), frame.length);
}
