/**
 * An in-process stream chain for tests and benchmarks: the real relay streams
 * plugin (Fastify, listening on loopback) and the real agent stream plane,
 * with real WebSockets between client, relay and agent. Only the relay's
 * identity/inventory/agents plugins are stood in for: callers and servers come
 * from tables, and `stream.open` reaches the agent by a direct call instead of
 * the control WebSocket (whose own tests live with it). Agent JWTs are real
 * EdDSA tokens verified with jose. Single-use tokens are spent in a real
 * SQLite store in the chain's data dir, so a restarted relay still refuses
 * a replay.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import websocket from '@fastify/websocket';
import { CONTROL_PROTOCOL_VERSION, LightsoutError, type Role, type SessionCreated, StreamClient, type StreamClientOptions, type StreamKind, type StreamMode } from '@lightsout/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { SignJWT, importJWK, jwtVerify, type JWK } from 'jose';
import pino from 'pino';
import WebSocket from 'ws';
import { freeTcpPort } from '@lightsout/lab';
import { type AgentContext, type AgentConfig, type ServerEntry, AgentStreams, type StreamsExtensionOptions, builtinDriverFactories, createAgentMetrics, createDispatcher, DriverRegistry, ServerTenants } from '@lightsout/agent';
import { AtRestKey, type KeyDocuments, SingleUseLedger, accessPlugin, configPlugin, errorsPlugin, streamsPlugin, type StreamDependencies, openStore, storeKeyDocuments } from '@lightsout/relay/parts';
import { nodeStreamSocket as nodeSocketFactory, nodeSetTimer as setTimer } from '@lightsout/cli';

export interface ChainUser {
  subject: string;
  username: string;
  tenant: string;
  role: Role;
}

export interface ChainAgent {
  agentId: string;
  streams: AgentStreams;
  registry: DriverRegistry;
  /** The agent's control dispatcher over its stream plane: what the relay's requests reach. */
  dispatch: ReturnType<typeof createDispatcher>;
  /** Sign an agent JWT as this agent. */
  signJwt(): Promise<string>;
}

export interface StreamChain {
  relayUrl: string;
  relay: FastifyInstance;
  agents: Map<string, ChainAgent>;
  dataDir: string;
  /** The chain's signing key rings (in its store): a test signs its own stream tokens with them. */
  keys: KeyDocuments;
  createSession(userToken: string, serverId: string, kind: StreamKind, mode?: StreamMode): Promise<SessionCreated>;
  connect(session: SessionCreated, handlers: Partial<StreamClientOptions> & Pick<StreamClientOptions, 'onData'>): StreamClient;
  /** Stop the relay (as a crash would, or cleanly) and start a new one on the same port and data dir. */
  restartRelay(): Promise<void>;
  stopRelay(): Promise<void>;
  close(): Promise<void>;
}

export interface ChainOptions {
  users: Record<string, ChainUser>;
  /** agentId → its servers */
  agents: Record<string, ServerEntry[]>;
  agentOptions?: StreamsExtensionOptions;
  logLevel?: string;
}

export async function startStreamChain(options: ChainOptions): Promise<StreamChain> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lightsout-streams-'));
  const port = await freeTcpPort();
  const relayUrl = `http://127.0.0.1:${port}`;
  const logger = pino({ level: options.logLevel ?? 'silent' });
  const agentAudience = `${relayUrl}/v1/agent`;
  const agents = new Map<string, ChainAgent>();
  const publicKeys = new Map<string, JWK>();

  for (const [agentId, servers] of Object.entries(options.agents)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' }) as JWK;
    publicKeys.set(agentId, { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JWK);
    const key = await importJWK(jwk, 'EdDSA');
    const signJwt = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid: agentId })
        .setIssuer(agentId)
        .setSubject(agentId)
        .setAudience(agentAudience)
        .setIssuedAt()
        .setExpirationTime('60s')
        .setJti(randomUUID())
        .sign(key);
    const config = { relay: relayUrl, name: agentId, servers, stateDir: join(dataDir, `agent-${agentId}`) } as unknown as AgentConfig;
    const context: AgentContext = {
      config,
      identity: { agentId, region: 'r1', datacenter: 'dc1', audience: agentAudience, relay: relayUrl },
      registry: new DriverRegistry(servers, builtinDriverFactories({ stateDir: dataDir, logger }), logger),
      logger,
      signJwt,
      relay: () => ({ url: relayUrl }),
      tenants: new ServerTenants(servers),
      metrics: createAgentMetrics(),
    };
    const streams = new AgentStreams(context, options.agentOptions ?? {});
    const dispatch = createDispatcher({ registry: context.registry, maxTimeoutMs: 60_000, handlers: streams.handlers });
    agents.set(agentId, { agentId, streams, registry: context.registry, dispatch, signJwt });
  }

  const serverIndex = new Map<string, { id: string; tenant: string; agentId: string; capabilities: string[] }>();
  for (const [agentId, servers] of Object.entries(options.agents)) {
    for (const server of servers) {
      const capabilities = [...(server.serial ? ['serial'] : []), ...(server.vnc ? ['vnc'] : []), ...(server.ipmi ? ['sol'] : [])];
      serverIndex.set(server.id, { id: server.id, tenant: server.tenant, agentId, capabilities });
    }
  }

  const store = await openStore({ dataDir, store: { driver: 'sqlite', sqliteFile: 'relay.sqlite' } });
  const singleUse = new SingleUseLedger(store);
  const keys = storeKeyDocuments(store, AtRestKey.loadOrCreate(join(dataDir, 'at-rest.key')));
  const dependencies: StreamDependencies = {
    singleUse,
    async findServer(serverId) {
      return serverIndex.get(serverId);
    },
    async requestAgent(agentId, op, params, timeoutMs) {
      const agent = agents.get(agentId);
      if (!agent) throw new LightsoutError('AGENT_OFFLINE', `agent ${agentId} is not connected`);
      const outcome = await agent.dispatch({ v: CONTROL_PROTOCOL_VERSION, type: 'request', id: randomUUID(), op, params: params as unknown as Record<string, unknown>, timeoutMs });
      if (!outcome.ok) throw LightsoutError.fromBody(outcome.error);
      return outcome.result as never;
    },
    async verifyAgentToken(token) {
      let kid: string | undefined;
      try {
        kid = (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: string }).kid;
      } catch {
        throw new LightsoutError('TOKEN_INVALID', 'agent token is not a JWS');
      }
      const jwk = kid === undefined ? undefined : publicKeys.get(kid);
      if (!jwk || kid === undefined) throw new LightsoutError('AGENT_KEY_UNKNOWN', 'unknown agent');
      try {
        const { payload } = await jwtVerify(token, await importJWK(jwk, 'EdDSA'), { algorithms: ['EdDSA'], audience: agentAudience, issuer: kid, subject: kid });
        if (typeof payload.jti !== 'string' || !(await singleUse.spend(`agent:${kid}`, payload.jti, (payload.exp ?? 0) * 1000 + 5000))) throw new Error('replayed');
      } catch {
        throw new LightsoutError('TOKEN_INVALID', 'agent token is not valid');
      }
      return kid;
    },
  };

  async function startRelay(): Promise<FastifyInstance> {
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger }) as unknown as FastifyInstance;
    // The single process on its SQLite store: recordings in its data dir's files, as a one-relay install keeps them.
    await app.register(configPlugin, { config: { role: 'all', dataDir, publicUrl: relayUrl, deploymentUrl: relayUrl, store: { driver: 'sqlite', sqliteFile: 'relay.sqlite' } } as never });
    await app.register(errorsPlugin);
    // The relay's access hook on the chain's stand-in users (a fresh sign-in each, so no step-up).
    await app.register(accessPlugin, {
      dependencies: {
        async principalOf(request) {
          const user = options.users[(request.headers.authorization ?? '').replace(/^Bearer /, '')];
          if (!user) throw new LightsoutError('UNAUTHENTICATED', 'unknown test user');
          const now = Math.floor(Date.now() / 1000);
          return { ...user, issuer: 'bench', expiresAt: now + 3600, authTime: now, amr: ['pwd'], kind: 'user' };
        },
        serverVisible: async (principal, serverId) => serverIndex.get(serverId)?.tenant === principal.tenant,
        stepUpPolicy: async () => ({ maxAgeSeconds: 600, mfa: false }),
        audit: async () => undefined,
      },
    });
    await app.register(websocket, { options: { maxPayload: 4 * 1024 * 1024 } });
    await app.register(streamsPlugin, { dependencies, keyDocuments: keys });
    await app.listen({ host: '127.0.0.1', port });
    return app;
  }

  let relay = await startRelay();
  const clients = new Set<StreamClient>();
  const chain: StreamChain = {
    relayUrl,
    get relay() {
      return relay;
    },
    agents,
    dataDir,
    keys,
    async createSession(userToken, serverId, kind, mode) {
      const response = await fetch(`${relayUrl}/v1/servers/${serverId}/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(mode === undefined ? { kind } : { kind, mode }),
      });
      const body = (await response.json()) as SessionCreated & { code?: string; message?: string };
      if (response.status !== 201) throw new LightsoutError((body.code ?? 'INTERNAL') as never, body.message ?? `HTTP ${response.status}`);
      return body;
    },
    connect(session, handlers) {
      const client = new StreamClient({
        streamUrl: session.streamUrl,
        token: session.token,
        socket: nodeSocketFactory(),
        setTimer,
        ...handlers,
        onClose: (code, reason) => {
          clients.delete(client);
          handlers.onClose?.(code, reason);
        },
      });
      clients.add(client);
      return client;
    },
    async restartRelay() {
      await chain.stopRelay();
      relay = await startRelay();
    },
    async stopRelay() {
      // Abrupt, like kill -9 as far as peers can tell: sockets are destroyed, no close frames.
      for (const socket of relay.websocketServer.clients) socket.terminate();
      await relay.close();
    },
    async close() {
      for (const client of clients) client.close();
      for (const agent of agents.values()) {
        await agent.streams.stop();
        await agent.registry.close();
      }
      await relay.close();
      await store.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return chain;
}

export { WebSocket };
