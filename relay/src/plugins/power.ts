import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PowerConfirmations } from '../inventory/power-confirm.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Confirms power actions by reading the BMC until it reports the target
     * (inventory/power-confirm.ts). One for the relay: a newer action on a
     * server, from a single request or a bulk job, replaces the older one's.
     */
    powerConfirmations: PowerConfirmations;
  }
}

async function powerPlugin(app: FastifyInstance): Promise<void> {
  const confirmations = new PowerConfirmations({
    read: async (serverId) => {
      const row = await app.store.selectFrom('servers').select('agent_id').where('id', '=', serverId).executeTakeFirstOrThrow();
      return (await app.agentRouter.request(row.agent_id, 'power.get', { serverId })).power;
    },
    record: async (serverId, power) => {
      await app.store.updateTable('servers').set({ power, state_at: Date.now() }).where('id', '=', serverId).execute();
      app.serverEvents.serversChanged([serverId]);
    },
    status: app.serverLiveStatus,
    onError: (serverId, error) => app.log.debug({ serverId, err: error }, 'power confirmation read failed'),
  });
  app.decorate('powerConfirmations', confirmations);
  // Before the store closes (registered after it): the confirmations cut short are stored as not confirmed.
  app.addHook('onClose', async () => confirmations.stop(2000));
}

export default fp(powerPlugin, { name: 'lightsout-power', dependencies: ['lightsout-agents'] });
