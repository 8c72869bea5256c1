import {
  CONTROL_MAX_FRAME_BYTES, CONTROL_PROTOCOL_VERSION, decodeAgentBoundStreamMessage, decodeAgentMessage, decodeAgentStreamMessage, decodeClientStreamMessage, decodeRelayMessage,
  decodeServerStreamMessage, encodeControl,
} from '@lightsout/shared';
import type { Outcome, Target } from '../engine.js';

const VALUE: Outcome = { kind: 'value' };
const v = CONTROL_PROTOCOL_VERSION;
const json = (value: unknown) => JSON.stringify(value);

// Frames as the agent and relay exchange them (the shapes of shared's codec tests and of a live agent's inventory).
const AGENT_FRAMES = [
  { v, type: 'hello', agentVersion: '0.1.0', capabilities: ['power', 'sol', 'vnc', 'media'] },
  {
    v,
    type: 'inventory',
    servers: [{ id: 'web-01', name: 'web-01.fra1', tenant: 'demo', rack: 'r12', endpoints: { ipmi: '10.0.0.5:623', vnc: 'vnc://10.0.0.5:5900' }, capabilities: ['power', 'sol', 'vnc'] }],
  },
  { v, type: 'heartbeat', seq: 42 },
  { v, type: 'state', serverId: 'web-01', power: 'on', reachable: true, bmc: { protocol: 'ipmi-v2.0', cipherSuite: 17 } },
  { v, type: 'response', id: 'r1', ok: true, result: { sensors: [{ name: 'CPU Temp', value: 41, unit: 'degrees C' }] } },
  { v, type: 'response', id: 'r2', ok: false, error: { code: 'BMC_UNREACHABLE', message: 'no answer from 10.0.0.5:623', details: { attempts: 3 } } },
].map(json);

const RELAY_FRAMES = [
  { v, type: 'welcome', agentId: 'agent-fra1', region: 'eu', datacenter: 'fra1', heartbeatIntervalMs: 15000, maxFrameBytes: 1048576, features: ['inventory-parts'] },
  { v, type: 'inventory-ack', accepted: ['web-01'], rejected: [{ serverId: 'bad', error: { code: 'MALFORMED_MESSAGE', message: 'bad id' } }] },
  { v, type: 'heartbeat-ack', seq: 42 },
  { v, type: 'request', id: 'r1', op: 'power.set', params: { serverId: 'web-01', action: 'cycle' }, timeoutMs: 30000 },
  { v, type: 'error', error: { code: 'UNAUTHORIZED', message: 'token expired' } },
].map(json);

/** A decoded control frame must encode again (a frame the relay forwards is re-encoded). */
function controlTarget(name: string, covers: string, seeds: string[], decode: (frame: string) => Parameters<typeof encodeControl>[0]): Target<string> {
  return {
    name,
    covers,
    kind: 'text',
    seeds: () => seeds,
    run(frame) {
      if (frame.length > CONTROL_MAX_FRAME_BYTES * 2) return VALUE; // the transport refuses it before the codec
      encodeControl(decode(frame));
      return VALUE;
    },
  };
}

function streamTarget(name: string, covers: string, seeds: unknown[], decode: (frame: string) => unknown): Target<string> {
  return {
    name,
    covers,
    kind: 'text',
    seeds: () => seeds.map(json),
    run(frame) {
      JSON.stringify(decode(frame));
      return VALUE;
    },
  };
}

export const relayTargets: Array<Target<string>> = [
  controlTarget('control-agent', 'decodeAgentMessage + encodeControl (agent → relay control frames)', AGENT_FRAMES, decodeAgentMessage),
  controlTarget('control-relay', 'decodeRelayMessage + encodeControl (relay → agent control frames)', RELAY_FRAMES, decodeRelayMessage),
  streamTarget('stream-client', 'decodeClientStreamMessage (client → relay stream control)', [{ type: 'resume', offset: 0 }, { type: 'ack', offset: 123456789 }, { type: 'resize', cols: 80, rows: 24 }, { type: 'break' }, { type: 'take-over' }], decodeClientStreamMessage),
  streamTarget('stream-agent-bound', 'decodeAgentBoundStreamMessage (relay → agent stream control)', [{ type: 'dropped', bytes: 3 }, { type: 'ack', offset: 3 }, { type: 'resize', cols: 120, rows: 40 }], decodeAgentBoundStreamMessage),
  streamTarget('stream-agent', 'decodeAgentStreamMessage (agent → relay stream control)', [{ type: 'status', mode: 'control', controller: 'alice', members: [{ user: 'alice', mode: 'control', attached: true }], event: 'joined', user: 'alice' }, { type: 'dropped', bytes: 3 }], decodeAgentStreamMessage),
  streamTarget('stream-server', 'decodeServerStreamMessage (relay → client stream control)', [{ type: 'path', state: 'down' }, { type: 'dropped', bytes: 3 }, { type: 'status', mode: 'view', controller: null, members: [] }], decodeServerStreamMessage),
];
