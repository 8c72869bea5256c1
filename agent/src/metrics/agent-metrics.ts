import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isErrorCode } from '@lightsout/shared';

/**
 * The agent's Prometheus metrics (docs/operations.md lists each). Labels
 * take values from closed sets only — protocol, control op, error code,
 * stream kind — never a server id, address or user: a series per server
 * would make 10,000 BMCs 10,000 series per metric.
 */
export interface AgentMetrics {
  readonly registry: Registry;
  /** One BMC operation (a relay request or a power poll) ended: `result` is `ok` or the error's code. */
  observeOperation(operation: string, protocol: string, result: string, seconds: number): void;
  /** A power-poll round ended. */
  observeRound(seconds: number): void;
  pollFailures: Counter<'code'>;
  /** A background sensor pass ended. */
  observeSensorPass(seconds: number): void;
  /** Background sensor reads by result: `ok` or the error's code. */
  sensorSamples: Counter<'result'>;
  /** Servers a sensor pass did not read, by reason (SampleSkip). */
  sensorSamplesSkipped: Counter<'reason'>;
  sensorHistoryServers: Gauge;
  sensorHistoryBytes: Gauge;
  credentialsRejected: Gauge;
  openSessions: Gauge<'kind'>;
  mediaTransfers: Counter<'result'>;
  mediaTransfersActive: Gauge;
  controlReconnects: Counter;
  controlConnected: Gauge;
  servers: Gauge;
}

/** Ops that become label values; anything else is counted as `other`. */
const OPERATIONS = new Set(['power.get', 'power.set', 'power.await', 'power.poll', 'sensors.sample', 'boot.get', 'boot.set', 'sensors.list', 'identity.get', 'sel.list', 'sel.clear', 'credentials.retry', 'stream.open', 'media.mount', 'media.eject']);
const PROTOCOLS = new Set(['ipmi', 'redfish', 'vnc', 'serial', 'none']);

/** `ok`, a stable error code, or `other`: the label set stays the ErrorCode union's size. */
export function resultLabel(error: unknown): string {
  if (error === undefined) return 'ok';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && isErrorCode(code) ? code : 'other';
}

export function createAgentMetrics(): AgentMetrics {
  const registry = new Registry();
  // Process CPU, RSS, event-loop lag and heap: what a 10,000-BMC agent costs.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const operationDuration = new Histogram({
    name: 'lightsout_agent_bmc_operation_duration_seconds',
    help: 'BMC operations (relay requests and power polls) by operation, protocol and result (ok or error code)',
    labelNames: ['operation', 'protocol', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const roundDuration = new Histogram({
    name: 'lightsout_agent_poll_round_duration_seconds',
    help: 'Wall time of one power-poll round over every pollable server (spread over 80 % of the interval by design)',
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
    registers,
  });
  const sensorPassDuration = new Histogram({
    name: 'lightsout_agent_sensor_pass_duration_seconds',
    help: 'Wall time of one background sensor pass over every sampled server (spread over 80 % of poll.sensorsIntervalMs by design)',
    buckets: [1, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600],
    registers,
  });
  return {
    registry,
    observeSensorPass: (seconds) => sensorPassDuration.observe(seconds),
    sensorSamples: new Counter({ name: 'lightsout_agent_sensor_samples_total', help: 'Background sensor reads, by result (ok or error code)', labelNames: ['result'], registers }),
    sensorSamplesSkipped: new Counter({
      name: 'lightsout_agent_sensor_samples_skipped_total',
      help: 'Servers a background sensor pass did not read, by reason (backoff, unreachable, credentials, busy, recent, full)',
      labelNames: ['reason'],
      registers,
    }),
    sensorHistoryServers: new Gauge({ name: 'lightsout_agent_sensor_history_servers', help: 'Servers whose sensor history the agent holds', registers }),
    sensorHistoryBytes: new Gauge({ name: 'lightsout_agent_sensor_history_bytes', help: 'Bytes of sensor readings the agent holds (typed columns)', registers }),
    observeOperation(operation, protocol, result, seconds) {
      operationDuration.observe({ operation: OPERATIONS.has(operation) ? operation : 'other', protocol: PROTOCOLS.has(protocol) ? protocol : 'other', result }, seconds);
    },
    observeRound: (seconds) => roundDuration.observe(seconds),
    pollFailures: new Counter({ name: 'lightsout_agent_poll_failures_total', help: 'Power polls that failed, by error code', labelNames: ['code'], registers }),
    credentialsRejected: new Gauge({ name: 'lightsout_agent_credentials_rejected_servers', help: 'Servers whose BMC rejected the configured credentials (logins held off)', registers }),
    openSessions: new Gauge({ name: 'lightsout_agent_console_sessions_open', help: 'Console sessions open on this agent, by kind (sol, serial, vnc)', labelNames: ['kind'], registers }),
    mediaTransfers: new Counter({ name: 'lightsout_agent_media_transfers_total', help: 'Image transfers from the relay into the media cache, by result (cached, failed)', labelNames: ['result'], registers }),
    mediaTransfersActive: new Gauge({ name: 'lightsout_agent_media_transfers_active', help: 'Image transfers from the relay in progress', registers }),
    controlReconnects: new Counter({ name: 'lightsout_agent_control_reconnects_total', help: 'Control-channel reconnect attempts scheduled (after a drop or a failed attempt)', registers }),
    controlConnected: new Gauge({ name: 'lightsout_agent_control_connected', help: '1 while the control channel to a relay is open', registers }),
    servers: new Gauge({ name: 'lightsout_agent_servers', help: 'Servers in this agent\'s config', registers }),
  };
}
