import { Compile } from 'typebox/compile';
import { LightsoutError } from '../errors.js';
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
    throw new LightsoutError('PROTOCOL_VERSION', `control protocol version ${String(record['v'])} is not ${CONTROL_PROTOCOL_VERSION}`, {
      hint: 'upgrade the agent and relay to matching releases',
    });
  }
  return record;
}

function check<T>(validator: { Check(value: unknown): boolean; Errors(value: unknown): Iterable<{ instancePath: string; message: string }> }, record: Record<string, unknown>): T {
  if (validator.Check(record)) return record as T;
  const first = [...validator.Errors(record)].slice(0, 3).map((error) => `${error.instancePath || '/'} ${error.message}`);
  throw new LightsoutError('MALFORMED_MESSAGE', `invalid ${String(record['type'] ?? 'untyped')} message: ${first.join('; ')}`);
}

/** Decode a frame the relay received from an agent. Throws LightsoutError with a stable code. */
export function decodeAgentMessage(frame: string, maxBytes = CONTROL_MAX_FRAME_BYTES): AgentToRelayMessage {
  return check<AgentToRelayMessage>(agentToRelay, parseFrame(frame, maxBytes));
}

/** Decode a frame the agent received from the relay. Throws LightsoutError with a stable code. */
export function decodeRelayMessage(frame: string, maxBytes = CONTROL_MAX_FRAME_BYTES): RelayToAgentMessage {
  return check<RelayToAgentMessage>(relayToAgent, parseFrame(frame, maxBytes));
}
