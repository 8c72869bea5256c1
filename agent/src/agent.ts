import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { CONTROL_MAX_FRAME_BYTES, CONTROL_PROTOCOL_VERSION, ControlFeature, inventoryParts, LightsoutError, type InventoryMessage, type SensorList } from '@lightsout/shared';
import type { AgentConfig } from './config/types.js';
import { ControlConnection } from './control/connection.js';
import { PowerAwaiter } from './control/power-await.js';
import { createDispatcher, DEFAULT_OPERATIONS_PER_SERVER, type OperationHandlers } from './control/dispatcher.js';
import { PerServerLimiter } from './control/per-server-limiter.js';
import { resolveRelayEndpoints, type RelayEndpoint } from './control/relay-endpoints.js';
import { AdoptedServers, entryOf } from './discovery/adopted.js';
import { DiscoveryService } from './discovery/service.js';
import { DriverRegistry, type DriverFactories } from './drivers/registry.js';
import { signAgentJwt } from './identity/jwt.js';
import type { AgentKeyPair } from './identity/keys.js';
import type { AgentIdentity } from './identity/state.js';
import { registrationOf } from './inventory.js';
import { createAgentMetrics, resultLabel, type AgentMetrics } from './metrics/agent-metrics.js';
import { HealthServer } from './metrics/health-server.js';
import { failureFields, isBmcAnswer } from './logger.js';
import { ServerTenants } from './server-tenants.js';
import { StatePoller } from './state-poller.js';
import { SensorHistoryStore } from './sensor-history.js';
import { SensorSampler } from './sensor-sampler.js';

/** What an extension (the stream plane, …) gets to work with. */
export interface AgentContext {
  config: AgentConfig;
  identity: AgentIdentity;
  registry: DriverRegistry;
  logger: Logger;
  /** A fresh agent JWT (EdDSA, 60 s) for `audience`, by default the control audience: for dial-back connections. */
  signJwt: (audience?: string) => Promise<string>;
  /** The relay the control connection is on now (else the first configured): requests came from it, dial-backs go to it. */
  relay: () => RelayEndpoint;
  /** Each server's tenant now: the config's, unless the relay assigned another. */
  tenants: ServerTenants;
  /** Prometheus metrics; extensions count their sessions and transfers here. */
  metrics: AgentMetrics;
}

/**
 * A part of the agent beyond the BMC drivers, e.g. the stream plane: it
 * answers some control ops and is stopped with the agent.
 */
export interface AgentExtension {
  handlers: OperationHandlers;
  stop(): Promise<void>;
}
export type AgentExtensionFactory = (context: AgentContext) => AgentExtension;

/** The agent's running parts, wired together; `stop()` disposes every one. */
export interface RunningAgent {
  readonly connection: ControlConnection;
  readonly registry: DriverRegistry;
  readonly poller: StatePoller;
  readonly sensorSampler: SensorSampler;
  readonly metrics: AgentMetrics;
  /** Where /healthz, /readyz and /metrics answer, once listening; undefined when off. */
  readonly healthAddress: Promise<AddressInfo | undefined>;
  /** Resolves with the error that made the agent give up (revoked, key unknown); never on a clean stop. */
  readonly fatal: Promise<LightsoutError>;
  stop(): Promise<void>;
}

export { controlUrlOf } from './control/relay-endpoints.js';

export function startAgent(options: {
  config: AgentConfig;
  identity: AgentIdentity;
  keyPair: AgentKeyPair;
  factories: DriverFactories;
  extensions?: readonly AgentExtensionFactory[];
  logger: Logger;
}): RunningAgent {
  const { config, identity, keyPair, factories, logger } = options;
  // Adopted servers join the YAML's before anything is built from the list (a YAML id wins: it pins the server).
  const adopted = new AdoptedServers(config.stateDir);
  for (const server of adopted.list()) {
    if (config.servers.some((entry) => entry.id === server.id)) {
      logger.warn({ serverId: server.id }, 'an adopted server has the id of a server in the config file: the config file wins');
      continue;
    }
    const entry = entryOf(server, config.credentialSets);
    if (entry === undefined) logger.error({ serverId: server.id, credentials: server.credentials }, 'an adopted server names a credential set the config file no longer has, or whose ranges no longer take its address: not served');
    else config.servers.push(entry);
  }
  const inventory: InventoryMessage = { v: CONTROL_PROTOCOL_VERSION, type: 'inventory', servers: config.servers.map(registrationOf) };
  // Before anything is started: a config the agent cannot use ends it here, with nothing left running.
  // (Larger than one frame is fine: it goes in parts; a server larger than a frame alone cannot.)
  inventoryParts(inventory.servers, CONTROL_MAX_FRAME_BYTES);
  const capabilities = [...new Set(inventory.servers.flatMap((server) => server.capabilities))];
  const registry = new DriverRegistry(config.servers, factories, logger);
  const signJwt = (audience = identity.audience) => signAgentJwt(keyPair.privateKey, { agentId: identity.agentId, audience });
  const relay = (): RelayEndpoint => connection.endpoint ?? { url: config.relays[0]! };
  const tenants = new ServerTenants(config.servers);
  const metrics = createAgentMetrics();
  metrics.servers.set(config.servers.length);
  const context: AgentContext = { config, identity, registry, logger, signJwt, relay, tenants, metrics };
  const extensions = startExtensions(options.extensions ?? [], context);
  const handlers: OperationHandlers = Object.assign({}, ...extensions.map((extension) => extension.handlers)) as OperationHandlers;

  // The readings every sensors.list answered and the sampler took, so a server page can chart them
  // (relay: GET /v1/servers/{id}/sensors/history).
  const sensorHistory = new SensorHistoryStore(undefined, config.poll.sensorsHistoryServers);
  const perServer = new PerServerLimiter(DEFAULT_OPERATIONS_PER_SERVER, {
    onFull: (serverId, load) => logger.warn({ serverId, ...load }, 'too many operations waiting for this BMC; refusing more with BMC_BUSY until its queue drains'),
  });
  const sensorSampler = new SensorSampler({
    registry,
    serverIds: () => config.servers.map((server) => server.id),
    store: sensorHistory,
    intervalMs: config.poll.sensorsIntervalMs,
    concurrency: config.poll.sensorsConcurrency,
    timeoutMs: config.control.requestTimeoutMs,
    limiter: perServer,
    unreachable: (serverId) => poller.stateOf(serverId)?.reachable === false,
    logger,
    onSampled: (serverId, seconds, error) => {
      const result = resultLabel(error);
      metrics.observeOperation('sensors.sample', registry.protocolFor(serverId) ?? 'none', result, seconds);
      metrics.sensorSamples.inc({ result });
    },
    onSkipped: (reason) => metrics.sensorSamplesSkipped.inc({ reason }),
    onPass: (seconds) => {
      metrics.observeSensorPass(seconds);
      metrics.sensorHistoryServers.set(sensorHistory.size);
      metrics.sensorHistoryBytes.set(sensorHistory.bytes);
    },
  });
  handlers['sensors.history'] = async (params) => {
    const serverId = params['serverId'];
    if (typeof serverId !== 'string' || !registry.hasServer(serverId)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${String(serverId)}`);
    return { ...sensorHistory.history(serverId), intervalSeconds: sensorSampler.intervalSecondsFor(serverId) };
  };
  const dispatch = createDispatcher({
    registry,
    perServer,
    maxTimeoutMs: config.control.requestTimeoutMs,
    handlers,
    onError: (request, error) => logRequestFailure(logger, request.op, request.params['serverId'], error),
  });
  const connection = new ControlConnection({
    endpoints: () => resolveRelayEndpoints(config.relays),
    connectTimeoutMs: config.control.connectTimeoutMs,
    token: () => signJwt(),
    backoff: { baseMs: config.control.backoffBaseMs, capMs: config.control.backoffCapMs },
    stableAfterMs: config.control.stableAfterMs,
    logger,
    capabilities,
    inventory: () => inventory,
    onRequest: async (request) => {
      const began = performance.now();
      // A new action on a server ends the agent's wait for the previous one's outcome.
      if (request.op === 'power.set' && typeof request.params['serverId'] === 'string') awaiter.supersede(request.params['serverId']);
      const outcome = await dispatch(request);
      if (outcome.ok && request.op === 'sensors.list' && typeof request.params['serverId'] === 'string') {
        sensorHistory.record(request.params['serverId'], Date.now(), (outcome.result as SensorList).sensors);
      }
      const protocol = protocolOfRequest(registry, request.op, request.params);
      if (protocol !== undefined) metrics.observeOperation(request.op, protocol, outcome.ok ? 'ok' : resultLabel(outcome.error), (performance.now() - began) / 1000);
      // A power read is a fresh observation: report it now instead of at the next poll. (Not the
      // answer to power.set: BMCs answer before they act, so that read is the state from before.)
      if (outcome.ok && request.op === 'power.get') {
        const power = (outcome.result as { power?: unknown }).power;
        if (power === 'on' || power === 'off') poller.observe(request.params['serverId'] as string, power);
      }
      return outcome;
    },
  });
  const poller = new StatePoller({
    registry,
    serverIds: config.servers.map((server) => server.id),
    intervalMs: config.poll.intervalMs,
    concurrency: config.poll.concurrency,
    timeoutMs: config.control.requestTimeoutMs,
    send: (message) => connection.send(message),
    logger,
    onPolled: (serverId, seconds, error) => {
      const result = resultLabel(error);
      metrics.observeOperation('power.poll', registry.protocolFor(serverId) ?? 'none', result, seconds);
      if (error !== undefined) metrics.pollFailures.inc({ code: result });
      metrics.credentialsRejected.set(poller.credentialsRejected);
    },
    onRound: (seconds) => metrics.observeRound(seconds),
  });
  const awaiter = new PowerAwaiter({ registry, observe: (serverId, power) => poller.observe(serverId, power), readTimeoutMs: config.control.requestTimeoutMs });
  handlers['power.await'] = (params) => awaiter.run(params);
  connection.on('reconnect-scheduled', () => metrics.controlReconnects.inc());
  connection.on('state', (state) => metrics.controlConnected.set(state === 'open' ? 1 : 0));
  const discovery = new DiscoveryService({
    config: config.discovery,
    credentialSets: config.credentialSets,
    adopted,
    logger,
    hasServer: (serverId) => registry.hasServer(serverId),
    report: (parts) => (connection.welcome?.features ?? []).includes(ControlFeature.DISCOVERY) && parts.every((part) => connection.send(part)),
    onServer: (entry, moved) => {
      const index = config.servers.findIndex((server) => server.id === entry.id);
      if (index >= 0) config.servers[index] = entry;
      else config.servers.push(entry);
      registry.setServer(entry);
      if (!moved) tenants.add(entry.id, entry.tenant);
      const registration = registrationOf(entry);
      const listed = inventory.servers.findIndex((server) => server.id === entry.id);
      if (listed >= 0) inventory.servers[listed] = registration;
      else inventory.servers.push(registration);
      metrics.servers.set(config.servers.length);
      connection.resendInventory();
      poller.addServer(entry.id);
    },
  });
  Object.assign(handlers, discovery.handlers);
  connection.on('registered', () => {
    poller.resend();
    discovery.reportPending();
  });
  // After every (re)connect the relay says which servers a provider admin moved to another tenant.
  connection.on('inventory-ack', (ack) => {
    for (const { serverId, tenant } of ack.assigned ?? []) tenants.assign(serverId, tenant);
  });
  // An admin fixed the credentials on the BMC: log in now instead of at the end of the hold-off, and report at once.
  handlers['credentials.retry'] = async (params) => {
    const serverId = params['serverId'];
    if (typeof serverId !== 'string' || !registry.hasServer(serverId)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${String(serverId)}`);
    const driver = registry.driverFor(serverId);
    if (driver?.retryCredentials === undefined) throw new LightsoutError('BMC_UNSUPPORTED', `the driver of ${serverId} does not hold off logins`);
    driver.retryCredentials();
    await poller.pollServer(serverId);
    const state = poller.stateOf(serverId);
    return { power: state?.power ?? 'unknown', reachable: state?.reachable ?? false, ...(state?.bmc === undefined ? {} : { bmc: state.bmc }) };
  };
  const listen = config.metrics.listen;
  const health = listen === undefined ? undefined : new HealthServer({ ...listen, registry: metrics.registry, notReady: () => (connection.state === 'open' ? undefined : `the control channel is ${connection.state}`) });
  const healthAddress = health === undefined ? Promise.resolve(undefined) : health.start();
  // A metrics address the agent cannot listen on ends it like any config it cannot use.
  const healthFailed = new Promise<LightsoutError>((resolve) => healthAddress.catch((error: unknown) => resolve(error instanceof LightsoutError ? error : new LightsoutError('CONFIG_INVALID', String(error)))));
  const fatal = Promise.race([new Promise<LightsoutError>((resolve) => connection.once('fatal', resolve)), healthFailed]);

  connection.start();
  poller.start();
  sensorSampler.start();
  discovery.start();
  logger.info({ agentId: identity.agentId, servers: inventory.servers.length, relays: config.relays, node: process.version, nodeFlags: process.execArgv }, 'agent started');

  let stopping: Promise<void> | undefined;
  return {
    connection,
    registry,
    poller,
    sensorSampler,
    metrics,
    healthAddress: healthAddress.catch(() => undefined),
    fatal,
    stop: () =>
      (stopping ??= (async () => {
        await health?.stop();
        await discovery.stop();
        await poller.stop();
        await sensorSampler.stop();
        await connection.stop();
        await Promise.allSettled(extensions.map((extension) => extension.stop()));
        await registry.close();
      })()),
  };
}

/** Ops whose latency is a BMC's: which protocol served it; undefined for the others (stream.close, media.fetch …). */
function protocolOfRequest(registry: DriverRegistry, op: string, params: Record<string, unknown>): string | undefined {
  const serverId = params['serverId'];
  if (typeof serverId !== 'string') return undefined;
  if (op === 'stream.open') return params['kind'] === 'sol' ? 'ipmi' : typeof params['kind'] === 'string' ? params['kind'] : 'none';
  if (!/^(power|boot|sensors|sel|credentials)\.|^media\.(mount|eject)$/.test(op)) return undefined;
  return registry.protocolFor(serverId) ?? 'none';
}

/** Starts each extension; when one fails, those already started are stopped before the error goes on. */
function startExtensions(factories: readonly AgentExtensionFactory[], context: AgentContext): AgentExtension[] {
  const started: AgentExtension[] = [];
  try {
    for (const create of factories) started.push(create(context));
    return started;
  } catch (error) {
    void Promise.allSettled(started.map((extension) => extension.stop()));
    throw error;
  }
}

/**
 * A BMC saying no (wrong credentials, no log service, an unsupported
 * command) is an ordinary answer, not an agent fault: a warning with the
 * BMC's own reason, no stack. Anything else is a bug and keeps its stack.
 */
export function logRequestFailure(logger: Logger, op: string, serverId: unknown, error: unknown): void {
  if (isBmcAnswer(error)) logger.warn({ op, serverId, ...failureFields(error) }, 'the BMC refused the request');
  else logger.error({ op, serverId, err: error }, 'request failed');
}
