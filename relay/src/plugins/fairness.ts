import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { BmcOperationFairness } from '../agents/fairness.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-tenant, per-agent and per-caller bounds on BMC operations (agents/fairness.ts). */
    bmcFairness: BmcOperationFairness;
  }
}

/** Routes whose handler forwards a BMC operation to an agent (every method); a bulk job counts once here, its operations hold slots (bulk/gate.ts). */
const BMC_OPERATION_ROUTES = new Set(['/v1/servers/:id/power', '/v1/servers/:id/boot', '/v1/servers/:id/sensors', '/v1/servers/:id/identity', '/v1/servers/:id/sel', '/v1/bulk']);

/**
 * Registered before the route plugins. The credential check runs on
 * `onRequest`, before the body is read and before the token is verified, so
 * shedding a flood costs a hash per request; the concurrency and per-caller
 * checks run in the inventory plugin once the server's tenant and agent are known.
 */
async function fairnessPlugin(app: FastifyInstance): Promise<void> {
  const fairness = new BmcOperationFairness(app.config.limits.bmcOperations);
  app.decorate('bmcFairness', fairness);
  app.addHook('onRequest', async (request) => {
    if (!BMC_OPERATION_ROUTES.has(request.routeOptions.url ?? '')) return;
    const credential = request.headers.authorization;
    // No credential: authentication refuses it next, at no cost worth bounding here.
    if (credential === undefined) return;
    fairness.admitCredential(createHash('sha256').update(credential).digest('base64url'));
  });
}

export default fp(fairnessPlugin, { name: 'lightsout-fairness', dependencies: ['lightsout-errors'] });
