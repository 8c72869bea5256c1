import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { RelayConfig } from '../config/schema.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: RelayConfig;
  }
}

async function configPlugin(app: FastifyInstance, options: { config: RelayConfig }): Promise<void> {
  app.decorate('config', options.config);
}

export default fp(configPlugin, { name: 'lightsout-config' });
