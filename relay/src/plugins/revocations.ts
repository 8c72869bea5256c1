import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PostgresRevocationChannel, SqliteRevocationChannel } from '../access/revocation-channels.js';
import { Revocations } from '../access/revocations.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Revocation notices (user disabled, token revoked, server moved …): every long-lived connection ends on them. */
    revocations: Revocations;
  }
}

/**
 * Revocation notices through the store, so every relay on the same database
 * hears them: PostgreSQL LISTEN/NOTIFY between replicas, in-process on
 * SQLite (one process owns the file). Registered after the store, before
 * the plugins that revoke or hold long-lived connections.
 */
async function revocationsPlugin(app: FastifyInstance): Promise<void> {
  const revocations = new Revocations();
  const { store: storeConfig } = app.config;
  const channel =
    storeConfig.driver === 'postgres' && storeConfig.postgresUrl !== undefined
      ? new PostgresRevocationChannel(app.store, storeConfig.postgresUrl, app.log)
      : new SqliteRevocationChannel(app.store);
  await revocations.connect(channel);
  app.decorate('revocations', revocations);
  // Before the store closes (onClose runs in reverse registration order: this one first).
  app.addHook('onClose', async () => revocations.close());
}

export default fp(revocationsPlugin, { name: 'lightsout-revocations', dependencies: ['lightsout-config', 'lightsout-store'] });
