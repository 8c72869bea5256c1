import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { CONTROL_MAX_FRAME_BYTES } from '@lightsout/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { resolveConfig } from './config/load.js';
import type { RelayConfig } from './config/schema.js';
import { createLogger } from './logging.js';
import configPlugin from './plugins/config.js';
import docsPlugin from './plugins/docs.js';
import errorsPlugin, { clientErrorHandler, frameworkErrors } from './plugins/errors.js';
import fairnessPlugin from './plugins/fairness.js';
import formBodyPlugin from './plugins/form-body.js';
import healthPlugin from './plugins/health.js';
import securityHeadersPlugin from './plugins/security-headers.js';
import auditPlugin from './plugins/audit.js';
import identityPlugin from './plugins/identity.js';
import agentsPlugin from './plugins/agents.js';
import serversPlugin from './plugins/servers.js';
import powerRoutesPlugin from './plugins/power-routes.js';
import bootPlugin from './plugins/boot.js';
import sensorsPlugin from './plugins/sensors.js';
import hardwareIdentityPlugin from './plugins/hardware-identity.js';
import selPlugin from './plugins/sel.js';
import fleetPlugin from './plugins/fleet.js';
import bulkPlugin from './plugins/bulk.js';
import powerPlugin from './plugins/power.js';
import eventsPlugin from './plugins/events.js';
import mediaPlugin from './plugins/media/index.js';
import { mediaDependenciesOf } from './plugins/media/wiring.js';
import metricsPlugin from './plugins/metrics.js';
import revocationsPlugin from './plugins/revocations.js';
import clusterPlugin from './plugins/cluster.js';
import storePlugin from './plugins/store.js';
import streamsPlugin from './plugins/streams/index.js';
import sshPlugin from './plugins/ssh.js';
import webUiPlugin from './plugins/web-ui.js';
import { relayDependencies } from './services.js';
import webPlugin from './plugins/web.js';
import accessPlugin from './plugins/access.js';
import usersPlugin from './plugins/users.js';
import grantsPlugin from './plugins/grants.js';
import serverAssignmentPlugin from './plugins/server-assignment.js';
import discoveryPlugin from './plugins/discovery.js';
import tenantsPlugin from './plugins/tenants.js';
import apiTokensPlugin from './plugins/api-tokens.js';
import auditRoutesPlugin from './plugins/audit-routes.js';
import auditSinksPlugin from './plugins/audit-sinks.js';
import mfaPlugin from './plugins/mfa.js';
import automationPlugin from './plugins/automation.js';
import mcpPlugin from './plugins/mcp/index.js';
import rpcPlugin from './plugins/rpc.js';
import { createDualProtocolServer } from './rpc/h2c.js';
import { ClientRequestGate } from './http/client-requests.js';
import { NewConnectionQueue, NEW_CONNECTIONS_PER_TURN } from './http/new-connections.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests in flight per client address, bounded before Fastify runs (http/client-requests.ts). */
    clientRequests: ClientRequestGate;
  }
}

export interface BuildAppOptions {
  /** A resolved config (from loadConfig) or raw input that is validated like the YAML file. */
  config: RelayConfig | Record<string, unknown>;
  /** Where log lines go (default stdout); tests pass a stream to capture or silence them. */
  logDestination?: DestinationStream;
  /** Print the seeded demo credentials (server.ts does; tests don't). */
  printSeededCredentials?: (text: string, containsPasswords: boolean) => void;
  /** Password for both seeded users; default the LIGHTSOUT_DEMO_PASSWORD environment variable, else random. */
  demoPassword?: string;
}

function isResolved(config: BuildAppOptions['config']): config is RelayConfig {
  return typeof (config as RelayConfig).agentAudience === 'string';
}

/** A correlation id from the caller when it is sane, else a fresh one. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

/** Build the relay without listening: tests use inject()/injectWS(); server.ts calls listen(). */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const config = isResolved(options.config) ? options.config : resolveConfig(options.config);
  const clientRequests = new ClientRequestGate({ perAddress: config.limits.clientRequests.perAddress, trustProxy: config.trustProxy });
  const app = Fastify({
    loggerInstance: createLogger(config.logLevel, options.logDestination) as FastifyBaseLogger,
    genReqId: (request) => requestId(request.headers['x-request-id']),
    bodyLimit: 1024 * 1024,
    // A plugin may wait on the store at start (migrations, seeding, key import): on a loaded host or a slow
    // database that takes longer than avvio's 10 s default, which would end the start with AVV_ERR_PLUGIN_EXEC_TIMEOUT.
    pluginTimeout: 120_000,
    trustProxy: config.trustProxy,
    clientErrorHandler,
    frameworkErrors,
    // HTTP/1.1 and cleartext HTTP/2 on the one port: gRPC needs HTTP/2 (rpc/h2c.ts says why not Fastify's own http2 mode).
    // Behind the front bounds (http/): new connections a few per loop turn, requests in flight per client address.
    serverFactory: (handler) => createDualProtocolServer(clientRequests.wrap(handler), new NewConnectionQueue(NEW_CONNECTIONS_PER_TURN)),
  }).setValidatorCompiler(TypeBoxValidatorCompiler);

  await app.register(configPlugin, { config });
  await app.register(errorsPlugin);
  await app.register(securityHeadersPlugin);
  // Before every route plugin: it records the route table and enforces every route's declared permission.
  await app.register(accessPlugin);
  await app.register(metricsPlugin);
  app.decorate('clientRequests', clientRequests);
  clientRequests.onRefused(() => app.metrics.clientRequestsRefused.inc());
  await app.register(storePlugin);
  await app.register(revocationsPlugin);
  await app.register(clusterPlugin);
  await app.register(docsPlugin);
  await app.register(formBodyPlugin);
  // Runs before @fastify/websocket's own preClose (which closes sockets without a
  // code): agents learn the relay is going away (1001) and reconnect to the next one.
  app.addHook('preClose', async () => {
    if (app.hasDecorator('agents')) app.agents.closeAll();
  });
  // Above the control-frame cap on purpose: a frame between the two is refused by our
  // decoder with FRAME_TOO_LARGE (an error message, then close 4002); only far larger
  // frames hit ws's own limit (close 1009).
  await app.register(websocket, {
    options: {
      maxPayload: 4 * Math.max(config.agents.maxFrameBytes, CONTROL_MAX_FRAME_BYTES),
      // Browsers pass the access token as a `bearer.<jwt>` subprotocol; never echo that one back.
      handleProtocols: (protocols: Set<string>) => [...protocols].find((protocol) => !protocol.startsWith('bearer.')) ?? false,
    },
  });
  await app.register(auditPlugin);
  await app.register(identityPlugin, { printSeededCredentials: options.printSeededCredentials, demoPassword: options.demoPassword ?? process.env['LIGHTSOUT_DEMO_PASSWORD'] });
  await app.register(agentsPlugin);
  await app.register(fairnessPlugin);
  await app.register(powerPlugin);
  // Servers first: it decorates the server operations the power, boot, sensors and SEL routes forward through.
  await app.register(serversPlugin);
  await app.register(powerRoutesPlugin);
  await app.register(bootPlugin);
  await app.register(sensorsPlugin);
  await app.register(hardwareIdentityPlugin);
  // Before the SEL routes: a cleared log drops out of the fleet's critical events.
  await app.register(fleetPlugin);
  await app.register(selPlugin);
  // Before events and media: the feed relays job progress, media registers its eject.
  await app.register(bulkPlugin);
  await app.register(usersPlugin);
  await app.register(grantsPlugin);
  await app.register(serverAssignmentPlugin);
  await app.register(discoveryPlugin);
  await app.register(tenantsPlugin);
  await app.register(apiTokensPlugin);
  await app.register(auditRoutesPlugin);
  await app.register(auditSinksPlugin);
  await app.register(mfaPlugin);
  await app.register(eventsPlugin);
  // The media plugin is encapsulated (its raw-body parser must not leak); its mount and eject reach the MCP tools this way.
  await app.register(mediaPlugin, { dependencies: mediaDependenciesOf(app), expose: (actions) => app.decorate('mediaActions', actions) });
  await app.register(streamsPlugin, { dependencies: relayDependencies(app) });
  await app.register(sshPlugin);
  await app.register(webUiPlugin);
  await app.register(automationPlugin);
  await app.register(mcpPlugin);
  await app.register(rpcPlugin);
  await app.register(healthPlugin);
  await app.register(webPlugin);
  return app;
}
