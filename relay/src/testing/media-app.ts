import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightsoutError, type Role } from '@lightsout/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { resolveConfig } from '../config/load.js';
import { ensureTenant } from '../identity/accounts.js';
import { principalFor } from '../identity/principal.js';
import { createTokenVerifier } from '../identity/verifier.js';
import accessPlugin, { bearerTokenOf } from '../plugins/access.js';
import errorsPlugin from '../plugins/errors.js';
import { AgentUploads } from '../plugins/media/agent-uploads.js';
import type { MediaDependencies } from '../plugins/media/dependencies.js';
import mediaPlugin, { type MediaPluginOptions } from '../plugins/media/index.js';
import { openStore } from '../store/open.js';
import { MockIssuer } from './mock-issuer.js';

/**
 * Test-only: the media plugin alone on a loopback port, behind the relay's
 * own token verification. Callers hold real access tokens (signed by an
 * independent OpenID implementation, see MockIssuer), which the relay's
 * verifier checks and its external-issuer mapping turns into a principal
 * (tenant, role and username from the token's claims; the tenant must exist).
 */
export interface MediaTestApp {
  app: FastifyInstance;
  url: string;
  directory: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

const AUDIENCE = 'https://relay.lightsout.test/v1';
/** The tenants a media test app knows; a token naming another is refused, as by a relay. */
const TENANTS = ['acme', 'globex'];

let issuer: Promise<MockIssuer> | undefined;
/** One issuer for the test file: its tokens open every media app the file starts. */
const testIssuer = () => (issuer ??= MockIssuer.create({ start: false }));

/**
 * `Bearer <access token>` for a user of `tenant` with `role`, signed in just
 * now with a password (step-up passes, so the tests see the media plugin's
 * own answers).
 */
export async function mediaAuthorization(tenant: string, role: Role, username: string): Promise<string> {
  const token = await (await testIssuer()).token(
    { sub: `sub-${username}`, aud: AUDIENCE, tenant, role, preferred_username: username, auth_time: Math.floor(Date.now() / 1000), amr: ['pwd'] },
    { header: { typ: 'at+jwt' }, expiresIn: 3600 },
  );
  return `Bearer ${token}`;
}

/** `agentUploads`: uploads that name a server go into its agent (the store's media_uploads rows), as in a relay. */
export async function startMediaApp(options: Omit<Partial<MediaPluginOptions>, 'dependencies'> & { dependencies?: Partial<MediaDependencies>; agentUploads?: boolean } = {}): Promise<MediaTestApp> {
  const directory = mkdtempSync(join(tmpdir(), 'relay-media-'));
  const mock = await testIssuer();
  const config = resolveConfig({ dataDir: directory, identity: { mode: 'external', audience: AUDIENCE, external: { issuer: mock.url } } });
  const external = config.identity.external!;
  const verifier = createTokenVerifier({ issuer: mock.url, audience: AUDIENCE, keys: mock.jwks(), types: external.accessTokenTypes, maxLifetimeSeconds: external.maxAccessTokenLifetimeSeconds });
  const store = await openStore(config);
  for (const tenant of TENANTS) await ensureTenant(store, tenant, tenant);
  const dependencies: MediaDependencies = {
    findServer: async () => undefined,
    requestAgent: async () => {
      throw new LightsoutError('AGENT_OFFLINE', 'no agent in this test');
    },
    verifyAgentToken: async () => {
      throw new LightsoutError('UNAUTHENTICATED', 'no agents in this test');
    },
    ...(options.agentUploads ? { uploads: new AgentUploads(store) } : {}),
    ...options.dependencies,
  };
  let port = 0;
  const build = async () => {
    const app = Fastify({ logger: false }).setValidatorCompiler(TypeBoxValidatorCompiler);
    app.decorate('config', config);
    await app.register(errorsPlugin);
    // The relay's one access hook: the routes' declared permissions apply to the verified principal.
    await app.register(accessPlugin, {
      dependencies: {
        principalOf: async (request) => principalFor(await verifier.verify(bearerTokenOf(request)), config, store),
        serverVisible: async (principal, serverId) => {
          const server = await dependencies.findServer(serverId);
          return server !== undefined && (server.tenant === principal.tenant || principal.role === 'provider-admin');
        },
        stepUpPolicy: async () => ({ maxAgeSeconds: 600, mfa: false }),
        audit: async () => undefined,
      },
    });
    const { agentUploads: _agentUploads, ...pluginOptions } = options;
    await app.register(mediaPlugin, { ...pluginOptions, directory: join(directory, 'uploads'), dependencies });
    await app.listen({ host: '127.0.0.1', port });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
    return app;
  };
  const running: MediaTestApp = {
    app: await build(),
    url: '',
    directory: join(directory, 'uploads'),
    async restart() {
      await running.app.close();
      running.app = await build();
    },
    async close() {
      await running.app.close();
      await store.destroy();
      rmSync(directory, { recursive: true, force: true });
    },
  };
  running.url = `http://127.0.0.1:${port}`;
  return running;
}
