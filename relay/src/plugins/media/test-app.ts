import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightsoutError, type Role } from '@lightsout/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Principal } from '../../identity/verifier.js';
import accessPlugin from '../access.js';
import errorsPlugin from '../errors.js';
import type { MediaDependencies } from './dependencies.js';
import mediaPlugin, { type MediaPluginOptions } from './index.js';

/**
 * Test-only: the media plugin alone on a loopback port. Callers authenticate
 * with `Bearer <tenant>:<role>:<username>`; that stands in for the identity
 * plugin, whose own tests cover real tokens.
 */
export interface MediaTestApp {
  app: FastifyInstance;
  url: string;
  directory: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function testAuthenticate(header: string | undefined): Principal {
  const match = /^Bearer ([a-z0-9-]+):([a-z-]+):([a-z0-9-]+)$/.exec(header ?? '');
  if (!match) throw new LightsoutError('UNAUTHENTICATED', 'no token');
  const now = Math.floor(Date.now() / 1000);
  // A fresh sign-in: step-up passes, so these tests see the media plugin's own answers.
  return { tenant: match[1]!, role: match[2] as Role, username: match[3]!, subject: `sub-${match[3]}`, issuer: 'test', expiresAt: now + 3600, authTime: now, amr: ['pwd'], kind: 'user' };
}

export async function startMediaApp(options: Omit<Partial<MediaPluginOptions>, 'dependencies'> & { dependencies?: Partial<MediaDependencies> } = {}): Promise<MediaTestApp> {
  const directory = mkdtempSync(join(tmpdir(), 'relay-media-'));
  const dependencies: MediaDependencies = {
    findServer: async () => undefined,
    requestAgent: async () => {
      throw new LightsoutError('AGENT_OFFLINE', 'no agent in this test');
    },
    verifyAgentToken: async () => {
      throw new LightsoutError('UNAUTHENTICATED', 'no agents in this test');
    },
    ...options.dependencies,
  };
  let port = 0;
  const build = async () => {
    const app = Fastify({ logger: false }).setValidatorCompiler(TypeBoxValidatorCompiler);
    app.decorate('config', { dataDir: directory } as never);
    await app.register(errorsPlugin);
    // The relay's one access hook, on the test's stand-in identities: the routes' declared permissions apply.
    await app.register(accessPlugin, {
      dependencies: {
        principalOf: async (request) => testAuthenticate(request.headers.authorization),
        serverVisible: async (principal, serverId) => {
          const server = await dependencies.findServer(serverId);
          return server !== undefined && (server.tenant === principal.tenant || principal.role === 'provider-admin');
        },
        stepUpPolicy: async () => ({ maxAgeSeconds: 600, mfa: false }),
        audit: async () => undefined,
      },
    });
    await app.register(mediaPlugin, { ...options, directory: join(directory, 'uploads'), dependencies });
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
      rmSync(directory, { recursive: true, force: true });
    },
  };
  running.url = `http://127.0.0.1:${port}`;
  return running;
}
