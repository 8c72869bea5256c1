import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Store, openStore } from '../store/open.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
  }
}

async function storePlugin(app: FastifyInstance): Promise<void> {
  const store = await openStore(app.config, (error) => app.log.warn({ err: error }, 'database connection lost'));
  app.decorate('store', store);
  app.addHook('onClose', async () => {
    await store.destroy();
  });
}

export default fp(storePlugin, { name: 'lightsout-store', dependencies: ['lightsout-config'] });
