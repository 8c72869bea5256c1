import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightsoutError, type Role } from '@lightsout/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
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

export function testAuthenticate(header: string | undefined): { subject: string; username: string; tenant: string; role: Role } {
  const match = /^Bearer ([a-z0-9-]+):([a-z-]+):([a-z0-9-]+)$/.exec(header ?? '');
  if (!match) throw new LightsoutError('UNAUTHENTICATED', 'no token');
  return { tenant: match[1]!, role: match[2] as Role, username: match[3]!, subject: `sub-${match[3]}` };
}

export async function startMediaApp(options: Omit<Partial<MediaPluginOptions>, 'dependencies'> & { dependencies?: Partial<MediaDependencies> } = {}): Promise<MediaTestApp> {
  const directory = mkdtempSync(join(tmpdir(), 'relay-media-'));
  const dependencies: MediaDependencies = {
    authenticate: async (request) => testAuthenticate(request.headers.authorization),
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
