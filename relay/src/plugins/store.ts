import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type KeyDocuments, sealClearKeyDocuments, storeKeyDocuments } from '../access/key-documents.js';
import { SingleUseLedger } from '../access/single-use.js';
import { AtRestKey } from '../store/at-rest-key.js';
import { type Store, openStore } from '../store/open.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    /** Where single-use tokens (stream connect tokens, agent JWTs) are spent: one ledger for the process. */
    singleUse: SingleUseLedger;
    /** Seals the secrets the store holds (TOTP secrets, signing keys); a file outside the database, the same on every replica. */
    atRestKey: AtRestKey;
    /** The deployment's signing key rings (OP keys, stream-token keys), sealed in the store. */
    keyDocuments: KeyDocuments;
  }
}

async function storePlugin(app: FastifyInstance): Promise<void> {
  const store = await openStore(app.config, (error) => app.log.warn({ err: error }, 'database connection lost'));
  app.decorate('store', store);
  app.decorate('singleUse', new SingleUseLedger(store));
  const atRestKey = AtRestKey.loadOrCreate(app.config.identity.totpKeyFile);
  app.decorate('atRestKey', atRestKey);
  app.decorate('keyDocuments', storeKeyDocuments(store, atRestKey));
  const sealed = await sealClearKeyDocuments(store, atRestKey, app.config.store.driver);
  if (sealed.length > 0) app.log.info({ rings: sealed }, 'sealed signing keys stored in clear by an earlier version');
  app.addHook('onClose', async () => {
    await store.destroy();
  });
}

export default fp(storePlugin, { name: 'lightsout-store', dependencies: ['lightsout-config'] });
