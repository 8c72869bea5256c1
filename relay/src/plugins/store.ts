import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { SingleUseLedger } from '../access/single-use.js';
import { type Store, openStore } from '../store/open.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    /** Where single-use tokens (stream connect tokens, agent JWTs) are spent: one ledger for the process. */
    singleUse: SingleUseLedger;
  }
}

async function storePlugin(app: FastifyInstance): Promise<void> {
  const store = await openStore(app.config, (error) => app.log.warn({ err: error }, 'database connection lost'));
  app.decorate('store', store);
  app.decorate('singleUse', new SingleUseLedger(store));
  app.addHook('onClose', async () => {
    await store.destroy();
  });
}

export default fp(storePlugin, { name: 'lightsout-store', dependencies: ['lightsout-config'] });
